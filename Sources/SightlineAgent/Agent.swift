import Foundation
import Glibc
package import Logging
import SightlineCore
import SightlineGRPC
import SightlineIngest
import SightlineScrape
import SightlineStorageCore
import Synchronization

/// `sightline agent`: file sources → transforms → the on-disk buffer → the sender, each loop on its own thread.
///
/// Delivery is at-least-once from the agent and exactly-once in the server: every frame of the buffer is sent with
/// `X-Sightline-Batch-ID: <agent id>-<segment>-<offset>`, an id that never changes for that frame (the agent id is made
/// once and kept in the data dir), and the server drops a batch whose id it already accepted. A frame leaves the
/// buffer only after a 2xx; 5xx, 429 and connection failures are retried with exponential backoff and jitter; other
/// 4xx answers are counted and the frame dropped (resending would be refused again). With `forward:` the same loop
/// publishes each frame to a NATS JetStream stream instead (``NATSForwarder``): the PubAck plays the 2xx.
package final class Agent: Sendable {
    package let config: AgentConfig
    package let metrics = AgentMetrics()
    private let buffer: DiskBuffer
    private let agentID: String
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let running = Atomic<Int>(0)
    /// The task running the scrape manager, cancelled by ``stop()``.
    private let scrapeTask = Mutex<Task<Void, Never>?>(nil)
    /// The OTLP/gRPC receiver, stopped by ``stop()``.
    private let grpcServer = Mutex<UnaryGRPCServer?>(nil)
    /// The running totals of OTLP metrics sent with delta temporality (they start over when the agent restarts).
    private let otlpDeltas = OTLPDeltaAccumulator()

    /// Opens the data directory and the buffer.
    /// - Throws: `io`/`dataCorrupted` when the data directory cannot be used.
    package init(config: AgentConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        try POSIXFile.createDirectory(config.dataDirectory)
        let idPath = config.dataDirectory + "/agent-id"
        if access(idPath, F_OK) == 0 {
            agentID = String(decoding: try POSIXFile.readAll(idPath), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            var generator = SystemRandomNumberGenerator()
            agentID = String(format: "%016llx", generator.next() as UInt64)
            try POSIXFile.writeAtomically(Array(agentID.utf8), to: idPath)
        }
        buffer = try DiskBuffer(directory: config.dataDirectory + "/buffer", maxBytes: config.bufferMaxBytes)
    }

    /// Starts the loops.
    package func start() throws {
        var positions = try FileTailer.loadPositions(config.dataDirectory + "/positions")
        // Frames still on disk may hold newer positions than the file (it is written before frames are deleted).
        try buffer.scanAll { payload in
            guard let batch = try? BufferedBatch(decoding: payload) else { return }
            for position in batch.positions { positions[position.key] = position }
        }
        let tailer = try FileTailer(
            sources: config.files, positionsPath: config.dataDirectory + "/positions", positions: positions,
            hostName: config.hostName, metrics: metrics)
        let tailerBox = UncheckedBox(tailer)
        if !config.files.isEmpty { spawn("tailer") { self.tailLoop(tailerBox.value) } }
        spawn("sender") { self.sendLoop(tailerBox.value) }
        if let statsd = config.statsd { try startStatsD(statsd) }
        if !config.scrapeJobs.isEmpty { try startScraping() }
        if let interval = config.hostMetricsInterval {
            let host = HostMetrics(procRoot: config.procRoot, sysRoot: config.sysRoot, hostName: config.hostName)
            spawn("host-metrics") {
                self.every(interval) { self.bufferMetrics(host.collect(timestampMs: Self.nowMs()), source: "host_metrics") }
            }
        }
        if let address = config.metricsAddress { try startHTTP(host: address.host, port: address.port) }
        if let address = config.otlpHTTPAddress { try startHTTP(host: address.host, port: address.port) }
        if let address = config.otlpGRPCAddress {
            let server = UnaryGRPCServer(
                host: address.host, port: address.port, maxMessageBytes: 64 << 20, name: "agent OTLP/gRPC", logger: logger,
                handler: { call in self.relayOTLP(call) })
            try server.startBlocking()
            grpcServer.withLock { $0 = server }
        }
        let output = config.forward.map { "\($0.url) stream \($0.stream)" } ?? "http://\(config.serverHost):\(config.serverPort)"
        logger.info("agent started", metadata: ["agent_id": "\(agentID)", "files": "\(config.files.count)", "output": "\(output)"])
    }

    /// Stops the loops and waits for them (a batch being sent is finished or abandoned to be retried next start).
    package func stop() {
        stopping.store(true, ordering: .releasing)
        scrapeTask.withLock { $0?.cancel() }
        if let server = grpcServer.withLock({ $0 }) { try? server.stopBlocking() }
        while running.load(ordering: .acquiring) > 0 { usleep(20_000) }
        buffer.close()
    }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        running.add(1, ordering: .relaxed)
        let thread = Thread {
            body()
            self.running.subtract(1, ordering: .releasing)
        }
        thread.name = "sightline-agent-\(name)"
        thread.start()
    }

    private var isStopping: Bool { stopping.load(ordering: .acquiring) }

    private static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Calls `body` every `interval` seconds until the agent stops, and once more when it stops.
    private func every(_ interval: Double, _ body: () -> Void) {
        var next = Date().addingTimeInterval(interval)
        while !isStopping {
            if Date() >= next {
                body()
                next = next.addingTimeInterval(interval)
                if next < Date() { next = Date().addingTimeInterval(interval) }
            }
            usleep(50_000)
        }
        body()
    }

    /// Puts metric samples into the buffer as one remote-write frame; when the buffer is full the oldest frames make
    /// room (push and pull metrics cannot wait), counted in `sightline_agent_buffer_dropped_batches`.
    private func bufferMetrics(_ samples: [MetricSample], exemplars: [MetricExemplar] = [], source: String) {
        guard !samples.isEmpty || !exemplars.isEmpty else { return }
        let body = RemoteWriteEncoder.encodeSnappy(samples, metadata: [], exemplars: exemplars)
        do {
            try buffer.append(BufferedBatch(kind: .remoteWrite, body: body).encoded(), whenFull: .dropOldest)
            metrics.add("sightline_agent_samples_buffered_total{source=\"\(source)\"}", Double(samples.count))
        } catch {
            metrics.add("sightline_agent_samples_dropped_total{reason=\"buffer_error\"}", Double(samples.count))
            logger.error("cannot buffer metric samples", metadata: ["source": "\(source)", "error": "\(error)"])
        }
        metrics.set("sightline_agent_buffer_dropped_batches", Double(buffer.dropped))
    }

    /// Runs the scrape jobs with the server's scrape loops (`up` per target and all), and reloads target files when
    /// they change (checked every `scrapeRefreshInterval`); a file that does not parse keeps the previous targets.
    private func startScraping() throws {
        let jobs = config.scrapeJobs
        let initial = try jobs.map { try $0.resolved() }
        let manager = ScrapeManager(configs: initial, logger: logger) { _, batch in
            self.bufferMetrics(batch.samples, exemplars: batch.exemplars, source: "scrape")
        }
        let task = Task { _ = try? await manager.run() }
        scrapeTask.withLock { $0 = task }
        spawn("scrape-files") {
            var last = jobs.map { $0.fingerprint() }
            self.every(self.config.scrapeRefreshInterval) {
                let now = jobs.map { $0.fingerprint() }
                guard now != last else { return }
                last = now
                do {
                    manager.update(try jobs.map { try $0.resolved() })
                    self.metrics.add("sightline_agent_scrape_target_reloads_total", 1)
                } catch {
                    self.metrics.add("sightline_agent_scrape_target_reload_failures_total", 1)
                    self.logger.error("cannot reload scrape target files; keeping the previous targets", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Binds the StatsD sockets and starts their readers and the flush loop.
    private func startStatsD(_ settings: StatsDConfig) throws {
        let aggregator = StatsDAggregator(percentiles: settings.percentiles)
        var sockets: [DatagramSocket] = []
        if let address = settings.udpAddress { sockets.append(try DatagramSocket(udpHost: address.host, port: address.port)) }
        if let path = settings.unixPath { sockets.append(try DatagramSocket(unixPath: path)) }
        for socket in sockets {
            spawn("statsd") {
                socket.run(shouldStop: { self.isStopping }) { packet in
                    aggregator.ingest(packet)
                    self.metrics.add("sightline_agent_statsd_packets_total", 1)
                }
                socket.close()
            }
        }
        spawn("statsd-flush") {
            self.every(settings.flushInterval) {
                self.bufferMetrics(aggregator.flush(timestampMs: Self.nowMs()), source: "statsd")
                let counts = aggregator.counts
                self.metrics.set("sightline_agent_statsd_lines_total", Double(counts.lines))
                self.metrics.set("sightline_agent_statsd_invalid_lines_total", Double(counts.invalid))
            }
        }
    }

    /// Reads files into the buffer: a batch, its positions in the same frame, then the positions committed.
    private func tailLoop(_ tailer: FileTailer) {
        var lastPersist = Date()
        let workspace = GzipCompressor.Workspace()
        while !isStopping {
            let (records, positions) = tailer.poll(maxBytes: config.batchMaxBytes)
            if records.isEmpty && positions.isEmpty {
                if Date().timeIntervalSince(lastPersist) > 5 {
                    try? tailer.persistPositions()
                    lastPersist = Date()
                }
                usleep(useconds_t(config.pollInterval * 1_000_000))
                continue
            }
            let (kind, body) = records.isEmpty ? (.otlpLogs, []) : logsBody(records, workspace: workspace)
            let frame = BufferedBatch(kind: kind, positions: positions, body: body).encoded()
            do {
                while !(try buffer.append(frame, whenFull: config.whenFull)) {
                    metrics.add("sightline_agent_backpressure_waits_total", 1)
                    if isStopping {
                        tailer.rewind(positions)
                        return
                    }
                    usleep(100_000)
                }
                tailer.commit(positions)
                metrics.add("sightline_agent_records_buffered_total", Double(records.count))
                metrics.set("sightline_agent_buffer_bytes", Double(buffer.pendingBytes))
            } catch {
                logger.error("cannot buffer a batch; retrying", metadata: ["error": "\(error)"])
                tailer.rewind(positions)
                usleep(1_000_000)
            }
        }
        try? tailer.persistPositions()
        tailer.close()
    }

    /// A buffered frame handed to the transport and not yet settled.
    private struct InFlight {
        var frame: DiskBuffer.Frame
        var batch: BufferedBatch
        var id: String
        /// The poster the request went out on; nil when ``outcome`` is already known (published to NATS, a send that
        /// failed, a frame with nothing to send).
        var poster: HTTPPoster?
        var outcome: DeliveryOutcome?
    }

    /// Sends buffered frames and acknowledges them in buffer order: after the server's 2xx, or, when `forward` is
    /// configured, after the JetStream stream's PubAck (``NATSForwarder``). Up to `max_in_flight` POSTs are out at
    /// once, each on its own connection, so the server stores one batch while the next arrives; the oldest is always
    /// the one waited for, so retries, backoff and acknowledgements stay in order. NATS publishing is one at a time.
    private func sendLoop(_ tailer: FileTailer) {
        let forwarder = config.forward.map { NATSForwarder(config: $0, logger: logger) }
        defer { forwarder?.close() }
        let window = forwarder == nil ? config.maxInFlight : 1
        var idle = (0..<window).map { _ in HTTPPoster(host: config.serverHost, port: config.serverPort) }
        var inFlight: [InFlight] = []
        /// Where the next frame to send starts (nil: at the buffer's cursor).
        var next: DiskBuffer.Position?
        var attempt = 0
        while !isStopping {
            while inFlight.count < window {
                let frame: DiskBuffer.Frame
                do {
                    guard let found = try next.map({ try buffer.frame(at: $0) }) ?? buffer.first() else { break }
                    frame = found
                } catch {
                    logger.error("cannot read the agent buffer", metadata: ["error": "\(error)"])
                    usleep(1_000_000)
                    break
                }
                next = frame.next
                var entry = InFlight(frame: frame, batch: BufferedBatch(kind: .otlpLogs, body: []), id: "\(agentID)-\(frame.position)")
                do {
                    entry.batch = try BufferedBatch(decoding: frame.payload)
                } catch {
                    metrics.add("sightline_agent_batches_dropped_total{reason=\"corrupt\"}", 1)
                }
                // Nothing to send (positions only, or a corrupt frame, counted): settled as soon as its turn comes.
                if entry.batch.body.isEmpty { entry.outcome = .delivered(duplicate: false) }
                if entry.outcome == nil { dispatch(&entry, forwarder: forwarder, idle: &idle) }
                inFlight.append(entry)
            }
            guard var oldest = inFlight.first else {
                usleep(50_000)
                continue
            }
            // While the window has room, wait for the oldest's answer only briefly, so that frames buffered meanwhile
            // go out beside it instead of after it.
            if inFlight.count < window, oldest.outcome == nil, let poster = oldest.poster,
                !poster.answerArrives(withinMilliseconds: 50)
            {
                continue
            }
            let outcome = settle(&oldest, idle: &idle)
            switch outcome {
            case .delivered(let duplicate):
                if !oldest.batch.body.isEmpty {
                    metrics.add("sightline_agent_batches_sent_total", 1)
                    metrics.add("sightline_agent_bytes_sent_total", Double(oldest.batch.body.count))
                }
                if duplicate { metrics.add("sightline_agent_batches_duplicate_total", 1) }
            case .rejected(let reason):
                metrics.add("sightline_agent_batches_dropped_total{reason=\"rejected\"}", 1)
                logger.error("a batch was rejected; dropping it", metadata: ["reason": "\(reason)"])
            case .retry(let reason):
                logger.warning("cannot deliver a batch; retrying", metadata: ["reason": "\(reason)"])
                metrics.add("sightline_agent_retries_total", 1)
                attempt += 1
                let base = min(10.0, 0.1 * pow(2.0, Double(min(attempt, 10))))
                let delay = base * Double.random(in: 0.5...1.0)
                var waited = 0.0
                while waited < delay && !isStopping {
                    usleep(50_000)
                    waited += 0.05
                }
                // Send again the oldest and every later batch that could not be sent (the server was unreachable),
                // so they do not each wait out a backoff of their own.
                inFlight[0] = oldest
                inFlight[0].outcome = outcome
                for index in inFlight.indices {
                    guard case .retry = inFlight[index].outcome else { continue }
                    inFlight[index].outcome = nil
                    dispatch(&inFlight[index], forwarder: forwarder, idle: &idle)
                }
                continue
            }
            attempt = 0
            inFlight.removeFirst()
            acknowledge(oldest.frame, tailer)
        }
        // Requests still out are answered or not; their frames stay in the buffer and are sent again (same ids).
    }

    /// Hands `entry` to the transport: published to NATS (the outcome is known at once) or POSTed on an idle poster.
    private func dispatch(_ entry: inout InFlight, forwarder: NATSForwarder?, idle: inout [HTTPPoster]) {
        let (path, headers) = route(entry.batch.kind)
        var allHeaders = headers + [("X-Sightline-Batch-ID", entry.id)]
        if let token = config.token { allHeaders.append(("Authorization", "Bearer \(token)")) }
        if let forwarder {
            entry.outcome = forwarder.publish(kind: entry.batch.kind, path: path, headers: allHeaders, batchID: entry.id, body: entry.batch.body)
            return
        }
        let poster = entry.poster ?? idle.removeLast()
        do {
            try poster.send(path, headers: allHeaders, body: entry.batch.body)
            entry.poster = poster
        } catch {
            idle.append(poster)
            entry.poster = nil
            entry.outcome = .retry("cannot reach the server: \(error)")
        }
    }

    /// Waits for the answer to `entry` (when it is not known yet) and returns its poster to `idle`: 2xx delivered;
    /// 429, 5xx and connection failures retried; other 4xx rejected.
    private func settle(_ entry: inout InFlight, idle: inout [HTTPPoster]) -> DeliveryOutcome {
        if let outcome = entry.outcome { return outcome }
        guard let poster = entry.poster else { return .retry("not sent") }
        entry.poster = nil
        idle.append(poster)
        do {
            let response = try poster.receive()
            if (200..<300).contains(response.status) { return .delivered(duplicate: false) }
            if response.status == 429 || response.status >= 500 { return .retry("the server answered \(response.status)") }
            return .rejected("the server answered \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
        } catch {
            return .retry("cannot reach the server: \(error)")
        }
    }

    private func acknowledge(_ frame: DiskBuffer.Frame, _ tailer: FileTailer) {
        do {
            try buffer.acknowledge(through: frame.next) { try tailer.persistPositions() }
        } catch {
            logger.error("cannot acknowledge a batch in the buffer", metadata: ["error": "\(error)"])
        }
        metrics.set("sightline_agent_buffer_bytes", Double(buffer.pendingBytes))
        metrics.set("sightline_agent_buffer_dropped_batches", Double(buffer.dropped))
    }

    /// The OTLP body of `records`, compressed as configured.
    private func logsBody(_ records: [LogRecord], workspace: GzipCompressor.Workspace? = nil) -> (BufferedBatch.Kind, [UInt8]) {
        compressed(OTLPEncoder.encodeLogs(records), kinds: (.otlpLogs, .otlpLogsGzip, .otlpLogsSnappy), workspace: workspace)
    }

    /// `body` compressed as `compression:` says, with the batch kind of that encoding among `kinds`.
    private func compressed(
        _ body: [UInt8], kinds: (plain: BufferedBatch.Kind, gzip: BufferedBatch.Kind, snappy: BufferedBatch.Kind),
        workspace: GzipCompressor.Workspace? = nil
    ) -> (BufferedBatch.Kind, [UInt8]) {
        switch config.compression {
        case .gzip: (kinds.gzip, GzipCompressor.compress(body, workspace: workspace))
        case .snappy: (kinds.snappy, Snappy.compress(body))
        case .none: (kinds.plain, body)
        }
    }

    private func route(_ kind: BufferedBatch.Kind) -> (String, [(String, String)]) {
        switch kind {
        case .otlpLogsGzip: ("/v1/logs", [("Content-Type", "application/x-protobuf"), ("Content-Encoding", "gzip")])
        case .otlpTracesGzip: ("/v1/traces", [("Content-Type", "application/x-protobuf"), ("Content-Encoding", "gzip")])
        case .otlpLogsSnappy: ("/v1/logs", [("Content-Type", "application/x-protobuf"), ("Content-Encoding", "snappy")])
        case .otlpTracesSnappy: ("/v1/traces", [("Content-Type", "application/x-protobuf"), ("Content-Encoding", "snappy")])
        case .otlpLogs: ("/v1/logs", [("Content-Type", "application/x-protobuf")])
        case .otlpTraces: ("/v1/traces", [("Content-Type", "application/x-protobuf")])
        case .otlpMetrics: ("/v1/metrics", [("Content-Type", "application/x-protobuf")])
        case .remoteWrite:
            ("/api/v1/write", [("Content-Type", "application/x-protobuf"), ("Content-Encoding", "snappy"), ("X-Prometheus-Remote-Write-Version", "0.1.0")])
        }
    }

    /// Answers the agent's HTTP requests: `GET /metrics`, and OTLP/HTTP exports to relay.
    private func handle(_ request: AgentHTTPServer.Request) -> AgentHTTPServer.Response {
        let path = request.path.split(separator: "?").first.map(String.init) ?? request.path
        switch (request.method, path) {
        case ("GET", "/metrics"):
            metrics.set("sightline_agent_buffer_bytes", Double(buffer.pendingBytes))
            return .init(status: 200, contentType: "text/plain; version=0.0.4", body: Array(metrics.exposition().utf8))
        case ("POST", "/v1/logs"): return relayOTLP(.logs, request)
        case ("POST", "/v1/metrics"): return relayOTLP(.metrics, request)
        case ("POST", "/v1/traces"): return relayOTLP(.traces, request)
        default: return .init(status: 404, body: Array("not found: \(request.method) \(path)\n".utf8))
        }
    }

    /// Decodes an OTLP/HTTP export and relays it (``relay(_:)``). A full buffer answers 503, which OTLP exporters retry.
    private func relayOTLP(_ signal: Signal, _ request: AgentHTTPServer.Request) -> AgentHTTPServer.Response {
        let contentType = request.headers["content-type"]?.lowercased() ?? ""
        let format: OTLPFormat
        if contentType.hasPrefix("application/x-protobuf") {
            format = .protobuf
        } else if contentType.hasPrefix("application/json") {
            format = .json
        } else {
            return .init(status: 415, body: Array("unsupported Content-Type \"\(contentType)\": use application/x-protobuf or application/json\n".utf8))
        }
        do {
            let body = try request.body.withUnsafeBytes {
                try ContentDecoding.decode($0, encoding: request.headers["content-encoding"], limit: 64 << 20)
            }
            guard try relay(OTLPDecoder.decode(signal, body: body, format: format, deltas: .init(otlpDeltas, tenant: ""))) else {
                return .init(status: 503, body: Array("the agent buffer is full\n".utf8))
            }
            return .init(status: 200, contentType: format == .json ? "application/json" : "application/x-protobuf", body: format == .json ? Array("{}".utf8) : [])
        } catch let error as SightlineError {
            metrics.add("sightline_agent_otlp_refused_total{reason=\"invalid\"}", 1)
            let status = switch error.code {
            case .tooLarge: 413
            case .unsupportedMediaType: 415
            default: 400
            }
            return .init(status: status, body: Array("\(error.description)\n".utf8))
        } catch {
            return .init(status: 400, body: Array("\(error)\n".utf8))
        }
    }

    /// Decodes an OTLP/gRPC export and relays it (``relay(_:)``). A full buffer answers UNAVAILABLE, which OTLP
    /// exporters retry; an unknown method UNIMPLEMENTED; a bad message INVALID_ARGUMENT.
    private func relayOTLP(_ call: GRPCCall) -> GRPCResult {
        guard let signal = GRPCCall.otlpSignal(path: call.path) else {
            return .failure(code: 12, message: "unknown method \(call.path)")
        }
        guard !call.overLimit else { return .failure(code: 8, message: "request message exceeds the agent's limit of 64 MiB") }
        do {
            let message = try call.message(limit: 64 << 20)
            let decoded = try message.withUnsafeBytes { try OTLPDecoder.decode(signal, body: $0, format: .protobuf, deltas: .init(otlpDeltas, tenant: "")) }
            guard try relay(decoded) else { return .failure(code: 14, message: "the agent buffer is full") }
            return .message([])  // an empty Export…ServiceResponse: everything accepted
        } catch let error as SightlineError {
            metrics.add("sightline_agent_otlp_refused_total{reason=\"invalid\"}", 1)
            return .failure(code: error.code == .unsupportedMediaType ? 12 : 3, message: error.description)
        } catch {
            return .failure(code: 3, message: "\(error)")
        }
    }

    /// Adds `host.name` to resources that lack it and buffers the batch for the server; false when the buffer is full.
    private func relay(_ decoded: DecodedBatch) throws -> Bool {
        let host = Attribute("host.name", .string(config.hostName))
        let batch: BufferedBatch
        switch decoded.batch {
        case .logs(let logs):
            var records = Array(logs)
            for index in records.indices where !records[index].resource.contains(where: { $0.key == "host.name" }) {
                records[index].resource.append(host)
            }
            let (kind, body) = logsBody(records)
            batch = BufferedBatch(kind: kind, body: body)
        case .traces(var spans):
            for index in spans.indices where !spans[index].resource.contains(where: { $0.key == "host.name" }) {
                spans[index].resource.append(host)
            }
            let (kind, body) = compressed(OTLPEncoder.encodeTraces(spans), kinds: (.otlpTraces, .otlpTracesGzip, .otlpTracesSnappy))
            batch = BufferedBatch(kind: kind, body: body)
        case .metrics(let metricBatch):
            batch = BufferedBatch(
                kind: .remoteWrite,
                body: RemoteWriteEncoder.encodeSnappy(metricBatch.samples, metadata: metricBatch.metadata, exemplars: metricBatch.exemplars))
        }
        guard try buffer.append(batch.encoded(), whenFull: .block) else {
            metrics.add("sightline_agent_otlp_refused_total{reason=\"buffer_full\"}", 1)
            return false
        }
        metrics.add("sightline_agent_otlp_records_total{signal=\"\(decoded.batch.signal)\"}", Double(decoded.batch.recordCount))
        return true
    }

    /// Starts an HTTP listener thread on `host:port` serving ``handle(_:)``.
    private func startHTTP(host: String, port: Int) throws {
        let server = try AgentHTTPServer(host: host, port: port) { self.handle($0) }
        spawn("http") { server.run(shouldStop: { self.isStopping }) }
    }
}

/// Hands a non-Sendable object to exactly one thread.
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
