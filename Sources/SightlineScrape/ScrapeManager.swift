package import Logging
import ServiceLifecycle
import SightlineCore

/// Runs one ``ScrapeLoop`` per target of every scrape configuration, as a `Service`.
///
/// `run()` keeps the loops in a task group and returns on graceful shutdown (or cancellation). ``update(_:)`` swaps
/// the configurations while running: loops of targets that are gone are stopped and write stale markers for their
/// series (Prometheus does the same on target removal, after waiting up to two intervals; Sightline writes them at
/// once). On shutdown no markers are written by default, as in Prometheus, so that series continue across a
/// restart; ``Options/staleMarkersOnShutdown`` changes that.
///
/// ```swift
/// let manager = ScrapeManager(configs: configs, logger: logger) { tenant, batch in
///     try await pipeline.ingest(tenant: tenant, batch: .metrics(batch))
/// }
/// let group = ServiceGroup(services: [manager], logger: logger)
/// ```
package final class ScrapeManager: Service, Sendable {
    /// Settings of the manager.
    package struct Options: Sendable {
        /// Whether loops write stale markers for their series on graceful shutdown.
        package var staleMarkersOnShutdown: Bool
        /// Mixed into every target's hash to pick its offset within the interval.
        package var offsetSeed: UInt64

        package init(staleMarkersOnShutdown: Bool = false, offsetSeed: UInt64 = 0) {
            self.staleMarkersOnShutdown = staleMarkersOnShutdown
            self.offsetSeed = offsetSeed
        }
    }

    private let sink: ScrapeLoop.Sink
    private let logger: Logger
    private let options: Options
    private let fetcher: HTTPFetcher
    private let clock: @Sendable () -> Int64
    /// The targets being scraped and their health.
    package let status: ScrapeTargetStatus
    private let updates: AsyncStream<[ScrapeConfig]>
    private let continuation: AsyncStream<[ScrapeConfig]>.Continuation

    /// Creates a manager.
    /// - Parameters:
    ///   - configs: The initial scrape configurations (already validated).
    ///   - options: See ``Options``.
    ///   - fetcher: The HTTP client.
    ///   - logger: For failed scrapes and invalid targets.
    ///   - clock: Wall-clock milliseconds.
    ///   - status: Where the targets and their health are kept (`/api/v1/targets` reads it).
    ///   - sink: Receives every scrape's batch with the tenant of its configuration.
    package init(
        configs: [ScrapeConfig],
        options: Options = Options(),
        fetcher: HTTPFetcher = HTTPFetcher(),
        logger: Logger,
        clock: @escaping @Sendable () -> Int64 = WallClock.nowMs,
        status: ScrapeTargetStatus = ScrapeTargetStatus(),
        sink: @escaping ScrapeLoop.Sink
    ) {
        self.status = status
        self.sink = sink
        self.logger = logger
        self.options = options
        self.fetcher = fetcher
        self.clock = clock
        (updates, continuation) = AsyncStream.makeStream(of: [ScrapeConfig].self, bufferingPolicy: .bufferingNewest(1))
        continuation.yield(configs)
    }

    /// Replaces the scrape configurations; loops of unchanged targets keep running.
    /// - Parameter configs: The new configurations (already validated).
    package func update(_ configs: [ScrapeConfig]) {
        continuation.yield(configs)
    }

    /// Scrapes until graceful shutdown or cancellation. Call once.
    package func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            var running: [ScrapeTarget: (signal: StopSignal, identity: TargetIdentity)] = [:]
            for await configs in updates.cancelOnGracefulShutdown() {
                var wanted: [ScrapeTarget] = []
                var dropped: [ScrapeTargetStatus.Dropped] = []
                for config in configs {
                    let found = ScrapeTarget.discover(config, logger: logger)
                    wanted += found.active
                    dropped += found.dropped.map { ScrapeTargetStatus.Dropped(config: config, discoveredLabels: $0) }
                }
                status.replace(active: wanted, dropped: dropped)
                let wantedSet = Set(wanted)
                let wantedIdentities = Set(wanted.map(TargetIdentity.init))
                for (target, entry) in running where !wantedSet.contains(target) {
                    // A target that only changed settings keeps its series: no markers.
                    entry.signal.stop(writeStaleMarkers: !wantedIdentities.contains(entry.identity))
                    running[target] = nil
                }
                for target in wanted where running[target] == nil {
                    let signal = StopSignal()
                    running[target] = (signal, TargetIdentity(target))
                    let loop = ScrapeLoop(target: target, fetcher: fetcher, sink: sink, logger: logger, clock: clock, status: status)
                    let seed = options.offsetSeed
                    group.addTask {
                        var loop = loop
                        await loop.run(until: signal, offsetSeed: seed)
                        if signal.writeStaleMarkers { await loop.writeEndOfRunStaleness() }
                    }
                }
                logger.info("scrape targets updated", metadata: ["targets": "\(running.count)"])
            }
            let markers = options.staleMarkersOnShutdown && !Task.isCancelled
            for entry in running.values { entry.signal.stop(writeStaleMarkers: markers) }
            await group.waitForAll()
        }
    }
}

/// What makes two targets the same series source: tenant, URL and labels.
private struct TargetIdentity: Hashable {
    var tenant: Tenant
    var url: String
    var labels: [Label]

    init(_ target: ScrapeTarget) {
        tenant = target.config.tenant
        url = target.url
        labels = target.labels
    }
}
