package import Logging
package import SightlineCore
import SightlineIngest

/// Scrapes one target on its interval and hands each scrape's batch to the sink.
///
/// Scrapes run at a stable offset within the interval, derived from a hash of the target as in Prometheus, so a
/// job's targets are spread over the interval and each target keeps its phase across restarts. The loop is a value
/// owned by one task: ``ScrapeManager`` runs each in a child task.
package struct ScrapeLoop: Sendable {
    /// Where batches go: the server passes its ingestion pipeline.
    package typealias Sink = @Sendable (Tenant, MetricBatch) async throws -> Void

    /// The target.
    package let target: ScrapeTarget
    private let fetcher: HTTPFetcher
    private let sink: Sink
    private let logger: Logger
    private let clock: @Sendable () -> Int64
    private let status: ScrapeTargetStatus?
    private var builder: ScrapeBatchBuilder

    /// Creates a loop.
    /// - Parameters:
    ///   - target: What to scrape.
    ///   - fetcher: The HTTP client.
    ///   - sink: Receives one batch per scrape.
    ///   - logger: Gets a warning, with target and reason, for every failed scrape.
    ///   - clock: Wall-clock milliseconds, the timestamp of scrapes.
    ///   - status: Where each scrape's health is noted, if anywhere.
    package init(
        target: ScrapeTarget, fetcher: HTTPFetcher, sink: @escaping Sink, logger: Logger,
        clock: @escaping @Sendable () -> Int64 = WallClock.nowMs, status: ScrapeTargetStatus? = nil
    ) {
        self.status = status
        self.target = target
        self.fetcher = fetcher
        self.sink = sink
        var logger = logger
        logger[metadataKey: "scrape.job"] = "\(target.config.jobName)"
        logger[metadataKey: "scrape.target"] = "\(target.url)"
        self.logger = logger
        self.clock = clock
        self.builder = ScrapeBatchBuilder(target: target)
    }

    /// The milliseconds into each interval at which this target is scraped.
    /// - Parameter seed: Mixed into the target hash, so that servers scraping the same targets can spread differently.
    package func offsetMs(seed: UInt64 = 0) -> Int64 {
        let intervalMs = max(1, ScrapeDuration.milliseconds(target.interval))
        return Int64((target.stableHash ^ seed) % UInt64(intervalMs))
    }

    /// Scrapes until `stop` fires or the task is cancelled. Writes no end-of-run markers: see ``writeEndOfRunStaleness()``.
    /// - Parameters:
    ///   - stop: Ends the loop.
    ///   - offsetSeed: See ``offsetMs(seed:)``.
    package mutating func run(until stop: StopSignal, offsetSeed: UInt64 = 0) async {
        let intervalMs = max(1, ScrapeDuration.milliseconds(target.interval))
        let nowMs = clock()
        let waitMs = ((offsetMs(seed: offsetSeed) - nowMs % intervalMs) % intervalMs + intervalMs) % intervalMs
        var deadline = ContinuousClock.now + .milliseconds(waitMs)
        while await stop.sleep(until: deadline) {
            await scrape()
            deadline += target.interval
            let now = ContinuousClock.now
            while deadline <= now { deadline += target.interval }
        }
    }

    /// Scrapes once and hands the batch to the sink.
    /// - Returns: The outcome, or nil when the task was cancelled mid-scrape (then nothing was stored).
    @discardableResult
    package mutating func scrape() async -> ScrapeBatchBuilder.Outcome? {
        let timestampMs = clock()
        let start = ContinuousClock.now
        var outcome: ScrapeBatchBuilder.Outcome
        var failure: String?
        do {
            let exposition = try await fetch(timestampMs: timestampMs)
            let duration = Self.seconds(ContinuousClock.now - start)
            outcome = try builder.success(exposition, timestampMs: timestampMs, durationSeconds: duration)
        } catch {
            if Task.isCancelled { return nil }
            logger.warning("scrape failed", metadata: ["reason": "\(error)"])
            failure = (error as? SightlineError)?.message ?? "\(error)"
            outcome = builder.failure(timestampMs: timestampMs, durationSeconds: Self.seconds(ContinuousClock.now - start))
        }
        status?.record(target, startedMs: timestampMs, durationSeconds: Self.seconds(ContinuousClock.now - start), error: failure)
        guard await store(outcome) else { return outcome }
        builder.commit(outcome)
        logger.debug(
            "scraped",
            metadata: [
                "samples": "\(outcome.scraped)", "post_relabeling": "\(outcome.postRelabeling)", "stale": "\(outcome.staleMarkers)",
            ])
        return outcome
    }

    /// Writes stale markers for every series of the last scrape (report series included), as Prometheus does when a
    /// target goes away.
    package mutating func writeEndOfRunStaleness() async {
        let outcome = builder.endOfRun(timestampMs: clock())
        if await store(outcome) { builder.commit(outcome) }
    }

    private func fetch(timestampMs: Int64) async throws -> ParsedExposition {
        let config = target.config
        let timeoutSeconds = PrometheusNumber.format(Double(ScrapeDuration.milliseconds(target.timeout)) / 1000)
        let response = try await fetcher.get(
            target.address, pathAndQuery: target.pathAndQuery,
            headers: [("Accept", HTTPFetcher.scrapeAccept), ("X-Prometheus-Scrape-Timeout-Seconds", timeoutSeconds)],
            timeout: target.timeout, maxBodySize: config.bodySizeLimit)
        guard response.status == 200 else {
            throw SightlineError(.unavailable, "server returned HTTP status \(response.status)")
        }
        let openMetrics: Bool? = PrometheusTextParser.isOpenMetricsContentType(response.contentType) ? true : nil
        return try response.body.withUnsafeBytes {
            try PrometheusTextParser.parse(
                $0, defaultTimestampMs: timestampMs, honorTimestamps: config.honorTimestamps, openMetrics: openMetrics)
        }
    }

    private func store(_ outcome: ScrapeBatchBuilder.Outcome) async -> Bool {
        do {
            try await sink(target.config.tenant, outcome.batch)
            return true
        } catch {
            logger.warning("storing scraped samples failed", metadata: ["reason": "\(error)"])
            return false
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
