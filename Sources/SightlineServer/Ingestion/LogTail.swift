package import SightlineCore
import Synchronization

/// Live tail: hands log records to the clients following them, as soon as they are stored.
///
/// The pipeline publishes each log batch after the WAL has it; a follower receives its tenant's records (with
/// ``LogRecord/stream`` set to the stream labels) and applies its own query. Publishing never waits for a follower: each
/// has a buffer of ``bufferedBatches`` batches, and a follower that falls further behind misses batches, which
/// it learns from ``Subscription/dropped`` — as Loki's tail reports dropped entries.
package final class LogTail: StoredBatchObserver {
    /// Batches a follower may have waiting.
    package static let bufferedBatches = 256

    private struct Follower: Sendable {
        var tenant: Tenant
        var continuation: AsyncStream<[LogRecord]>.Continuation
        var dropped = 0
    }

    private let followers = Mutex<[Int: Follower]>([:])
    private let nextID = Atomic<Int>(0)
    private let count = Atomic<Int>(0)

    package init() {}

    /// One follower's records.
    package struct Subscription: Sendable {
        package let id: Int
        package let records: AsyncStream<[LogRecord]>
    }

    /// Starts following `tenant`'s records; end with ``unsubscribe(_:)``.
    package func subscribe(tenant: Tenant) -> Subscription {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream.makeStream(of: [LogRecord].self, bufferingPolicy: .bufferingNewest(Self.bufferedBatches))
        followers.withLock { $0[id] = Follower(tenant: tenant, continuation: continuation) }
        count.add(1, ordering: .relaxed)
        return Subscription(id: id, records: stream)
    }

    package func unsubscribe(_ subscription: Subscription) {
        let removed = followers.withLock { $0.removeValue(forKey: subscription.id) }
        if let removed {
            removed.continuation.finish()
            count.subtract(1, ordering: .relaxed)
        }
    }

    /// How many records `subscription` missed because it fell behind; resets the count.
    package func takeDropped(_ subscription: Subscription) -> Int {
        followers.withLock { followers in
            defer { followers[subscription.id]?.dropped = 0 }
            return followers[subscription.id]?.dropped ?? 0
        }
    }

    /// Hands a stored batch to the followers of its tenant. Cheap when nobody follows.
    package func stored(_ batch: TenantBatch) {
        guard count.load(ordering: .relaxed) > 0, case .logs(let records) = batch.batch, !records.isEmpty else { return }
        followers.withLock { followers in
            var labeled: [LogRecord]?
            for (id, follower) in followers where follower.tenant == batch.tenant {
                if labeled == nil {
                    labeled = records.map { record in
                        var record = record
                        record.stream = record.streamLabels
                        return record
                    }
                }
                if case .dropped(let batch) = follower.continuation.yield(labeled ?? []) {
                    followers[id]?.dropped += batch.count
                }
            }
        }
    }
}
