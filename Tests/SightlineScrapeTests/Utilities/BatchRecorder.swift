import SightlineCore
import Synchronization

/// A sink that keeps every batch it receives, for assertions.
final class BatchRecorder: Sendable {
    private let batches = Mutex<[(Tenant, MetricBatch)]>([])
    private let failing = Mutex(false)

    var all: [(Tenant, MetricBatch)] { batches.withLock { $0 } }
    var count: Int { batches.withLock { $0.count } }
    var last: MetricBatch? { batches.withLock { $0.last?.1 } }

    /// Makes the sink throw until set back to false.
    func setFailing(_ value: Bool) { failing.withLock { $0 = value } }

    var sink: @Sendable (Tenant, MetricBatch) async throws -> Void {
        { tenant, batch in
            if self.failing.withLock({ $0 }) { throw SinkError() }
            self.batches.withLock { $0.append((tenant, batch)) }
        }
    }

    /// Waits until at least `count` batches arrived, up to `timeout`.
    func wait(for count: Int, timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if self.count >= count { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return self.count >= count
    }

    struct SinkError: Error {}
}

extension MetricBatch {
    /// Each sample as `series value`, stale markers as `STALE`, sorted, for easy comparison.
    var rendered: [String] {
        samples.map { "\($0.labels) \(StaleNaN.isStale($0.value) ? "STALE" : "\($0.value)")" }.sorted()
    }

    /// The value of `series`, or nil.
    func value(_ series: String) -> Double? {
        samples.first { $0.labels.description == series }?.value
    }
}
