import Synchronization

/// Tells one scrape loop to stop, and whether to write staleness markers for its series when it does.
///
/// A loop waits for its next scrape with ``sleep(until:)``, which returns early when the signal fires or the task is
/// cancelled. Only the sleep is cancelled, never the loop's own task, so the loop can still hand its final markers
/// to the sink.
package final class StopSignal: Sendable {
    private struct State {
        var stopped = false
        var writeStaleMarkers = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var cancelled: Set<UInt64> = []
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    package init() {}

    /// Fires the signal; the first call decides `writeStaleMarkers`.
    /// - Parameter writeStaleMarkers: Whether the loop should write stale markers for its last series.
    package func stop(writeStaleMarkers: Bool) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.stopped else { return [] }
            state.stopped = true
            state.writeStaleMarkers = writeStaleMarkers
            let waiters = Array(state.waiters.values)
            state.waiters = [:]
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Whether ``stop(writeStaleMarkers:)`` was called.
    package var isStopped: Bool { state.withLock { $0.stopped } }

    /// Whether the loop was asked to write stale markers.
    package var writeStaleMarkers: Bool { state.withLock { $0.stopped && $0.writeStaleMarkers } }

    /// Suspends until the signal fires or the task is cancelled.
    package func wait() async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.stopped || state.cancelled.remove(id) != nil { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
                if !state.stopped { state.cancelled.insert(id) }
                return nil
            }
            waiter?.resume()
        }
    }

    /// Sleeps until `deadline` unless the signal fires or the task is cancelled first.
    /// - Parameter deadline: When to wake up.
    /// - Returns: true when the deadline passed; false when stopped or cancelled.
    package func sleep(until deadline: ContinuousClock.Instant) async -> Bool {
        if isStopped || Task.isCancelled { return false }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await Task.sleep(until: deadline, clock: .continuous)
                    return true
                } catch {
                    return false
                }
            }
            group.addTask {
                await self.wait()
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first && !isStopped
        }
    }
}
