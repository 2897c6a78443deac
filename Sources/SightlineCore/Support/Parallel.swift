import Dispatch
import Glibc
import Synchronization

/// How many threads parallel work may use: the processors online.
package let processorCount = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

/// Result slots that worker threads fill, each slot by one thread, read after all of them have joined.
private final class ResultSlots<R>: @unchecked Sendable {
    // Unchecked: every slot is written by exactly one worker under `lock`, and read only after
    // `concurrentPerform` has returned, which orders those writes before the reads.
    var slots: [Result<R, any Error>?]
    let lock = Mutex(())
    init(count: Int) { slots = Array(repeating: nil, count: count) }
}

/// Runs `body` over `items` on up to `width` threads at once and returns each item's result, in order. Used where
/// items are independent work: the log store encodes, merges and scans streams in parallel (the caller decides what
/// to do with the successes when some item failed, e.g. delete the files they wrote); the TSDB decodes the series of
/// a query in parallel.
package func parallelMap<T, R>(_ items: [T], width: Int, _ body: (T) throws -> R) -> [Result<R, any Error>] {
    if items.count <= 1 || width <= 1 { return items.map { item in Result { try body(item) } } }
    let next = Atomic<Int>(0)
    let slots = ResultSlots<R>(count: items.count)
    withoutActuallyEscaping(body) { body in
        // The closure and items are only used inside concurrentPerform, which returns after every worker has finished.
        nonisolated(unsafe) let body = body
        nonisolated(unsafe) let items = items
        DispatchQueue.concurrentPerform(iterations: min(width, items.count)) { _ in
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < items.count else { return }
                let result = Result { try body(items[index]) }
                slots.lock.withLock { _ in slots.slots[index] = result }
            }
        }
    }
    return slots.slots.map { $0 ?? .failure(SightlineParallelError()) }
}

/// A slot left empty, which `concurrentPerform` does not allow; kept so the result type stays total.
private struct SightlineParallelError: Error {}
