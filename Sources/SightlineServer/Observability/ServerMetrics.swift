import CoreMetrics
package import Prometheus
package import SightlineCore
import Synchronization

/// The server's own metrics, recorded through swift-metrics into a registry that `GET /metrics` renders.
///
/// Each server owns its registry, so tests can run several servers in one process without a global bootstrap.
package final class ServerMetrics: Sendable {
    /// The registry behind `GET /metrics`.
    package let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let counters = Mutex<[String: CoreMetrics.Counter]>([:])
    private let gauges = Mutex<[String: CoreMetrics.Gauge]>([:])
    private let walAppend: CoreMetrics.Timer
    private let walFsync: CoreMetrics.Timer
    private let walBytes: CoreMetrics.Gauge
    private let ready: CoreMetrics.Gauge

    package init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        ]
        self.registry = registry
        self.factory = factory
        walAppend = CoreMetrics.Timer(label: "sightline_wal_write_duration_seconds", factory: factory)
        walFsync = CoreMetrics.Timer(label: "sightline_wal_fsync_duration_seconds", factory: factory)
        walBytes = CoreMetrics.Gauge(label: "sightline_wal_size_bytes", factory: factory)
        ready = CoreMetrics.Gauge(label: "sightline_ready", factory: factory)
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Counter {
        Self.cached(counters, label, dimensions) { CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory) }
    }

    private func gauge(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Gauge {
        Self.cached(gauges, label, dimensions) { CoreMetrics.Gauge(label: label, dimensions: dimensions, factory: factory) }
    }

    /// The metric of `label` and `dimensions` from `cache`, made on first use.
    private static func cached<Metric>(
        _ cache: borrowing Mutex<[String: Metric]>, _ label: String, _ dimensions: [(String, String)], make: () -> Metric
    ) -> Metric {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return cache.withLock { cache in
            if let metric = cache[key] { return metric }
            let metric = make()
            cache[key] = metric
            return metric
        }
    }

    /// Counts records and bytes this server stored for one signal over one protocol (`queue` for records taken from
    /// the JetStream queue).
    package func ingested(_ signal: Signal, protocol name: String, records: Int, bytes: Int) {
        counter("sightline_ingested_records_total", [("signal", signal.description), ("protocol", name)]).increment(by: records)
        counter("sightline_ingested_bytes_total", [("signal", signal.description), ("protocol", name)]).increment(by: bytes)
    }

    /// Counts records and bytes accepted for one signal over one protocol and published to the JetStream queue
    /// (`queue.publish`) for a consuming server to store, which counts them as ingested: summed over servers, the
    /// ingested counters count every stored record once.
    package func published(_ signal: Signal, protocol name: String, records: Int, bytes: Int) {
        counter("sightline_published_records_total", [("signal", signal.description), ("protocol", name)]).increment(by: records)
        counter("sightline_published_bytes_total", [("signal", signal.description), ("protocol", name)]).increment(by: bytes)
    }

    /// Counts batches acknowledged without storing because a batch with their id was already accepted (a retry).
    package func duplicateBatch(protocol name: String) {
        counter("sightline_duplicate_batches_total", [("protocol", name)]).increment(by: 1)
    }

    /// Counts records rejected, by reason (`decode`, `too_many_labels`, `body_too_large`, …).
    package func rejected(_ signal: Signal, reason: String, records: Int) {
        guard records > 0 else { return }
        counter("sightline_rejected_records_total", [("signal", signal.description), ("reason", reason)]).increment(by: records)
    }

    /// Counts log records stored with their body cut to `limits.max_log_body_bytes`.
    package func truncatedLogBodies(_ records: Int) {
        guard records > 0 else { return }
        counter("sightline_truncated_log_bodies_total", []).increment(by: records)
    }

    /// Counts log records a live-tail follower missed because it fell behind.
    package func tailDropped(_ records: Int) {
        counter("sightline_tail_dropped_records_total", []).increment(by: records)
    }

    /// Counts audit events stored and those skipped because their id was already stored (relay retries).
    package func auditEvents(accepted: Int, duplicates: Int) {
        counter("sightline_audit_events_total", [("result", "accepted")]).increment(by: accepted)
        if duplicates > 0 { counter("sightline_audit_events_total", [("result", "duplicate")]).increment(by: duplicates) }
    }

    /// Counts requests refused as a whole, by HTTP status or gRPC code.
    package func refusedRequest(protocol name: String, status: String) {
        counter("sightline_refused_requests_total", [("protocol", name), ("status", status)]).increment()
    }

    /// Counts one message taken from the NATS ingest queue and how it ended: `acked` (the batch is in the WAL),
    /// `nacked` (429/5xx: delivered again later) or `termed` (refused for good, e.g. 400 or 401).
    package func queueMessage(result: String) {
        counter("sightline_queue_messages_total", [("result", result)]).increment()
    }

    /// Records one WAL group commit.
    package func walCommitted(writeSeconds: Double, fsyncSeconds: Double) {
        walAppend.recordNanoseconds(Int64(writeSeconds * 1e9))
        if fsyncSeconds > 0 { walFsync.recordNanoseconds(Int64(fsyncSeconds * 1e9)) }
    }

    /// Sets the WAL's size on disk.
    package func walSize(bytes: Int64) { walBytes.record(bytes) }

    /// Sets the metrics engine's block size, the samples its head dropped after admission by reason, and the
    /// exemplars it holds and refused by reason.
    package func tsdbState(blockBytes: Int64, discarded: [String: Int], exemplars: (stored: Int, dropped: [String: Int])) {
        gauge("sightline_tsdb_blocks_bytes", []).record(blockBytes)
        for (reason, count) in discarded {
            gauge("sightline_tsdb_head_discarded_samples", [("reason", reason)]).record(count)
        }
        gauge("sightline_tsdb_exemplars", []).record(exemplars.stored)
        for (reason, count) in exemplars.dropped {
            gauge("sightline_tsdb_discarded_exemplars", [("reason", reason)]).record(count)
        }
    }

    /// Marks the server ready (1) or not (0).
    package func setReady(_ isReady: Bool) { ready.record(isReady ? 1 : 0) }

    /// The metrics in the Prometheus text format.
    package func render() -> [UInt8] { registry.emitToBuffer() }
}
