import Dispatch
import Glibc
import Synchronization

/// How many threads parallel work may use: the processors online.
package let processorCount = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

/// Runs `body` over `items` on up to `width` threads at once and returns each item's result, in order. Used where
/// items are independent work: the log store encodes, merges and scans streams in parallel (the caller decides what
/// to do with the successes when some item failed, e.g. delete the files they wrote); the TSDB decodes the series of
/// a query in parallel.
package func parallelMap<T, R>(_ items: [T], width: Int, _ body: (T) throws -> R) -> [Result<R, any Error>] {
    if items.count <= 1 || width <= 1 { return items.map { item in Result { try body(item) } } }
    let next = Atomic<Int>(0)
    // One slot per item, each written by exactly the worker that took the item, and read only after
    // `concurrentPerform` has returned (which orders every worker's writes before it returns): no lock is needed.
    let slots = UnsafeMutableBufferPointer<Result<R, any Error>?>.allocate(capacity: items.count)
    slots.initialize(repeating: nil)
    defer {
        slots.deinitialize()
        slots.deallocate()
    }
    withoutActuallyEscaping(body) { body in
        // The closure, items and slots are only used inside concurrentPerform, which returns after every worker has
        // finished.
        nonisolated(unsafe) let body = body
        nonisolated(unsafe) let items = items
        nonisolated(unsafe) let slots = slots
        DispatchQueue.concurrentPerform(iterations: min(width, items.count)) { _ in
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < items.count else { return }
                slots[index] = Result { try body(items[index]) }
            }
        }
    }
    return slots.map { $0 ?? .failure(SightlineParallelError()) }
}

/// `0..<count` split into consecutive runs for ``parallelMap(_:width:_:)``: one run when `width` is 1, else about
/// `runsPerThread` runs per thread, so that runs of uneven cost even out across the threads (each takes work rarely).
package func parallelRuns(_ count: Int, width: Int, runsPerThread: Int = 8) -> [Range<Int>] {
    let length = width <= 1 ? max(1, count) : max(1, count / (width * runsPerThread))
    return stride(from: 0, to: count, by: length).map { $0..<min($0 + length, count) }
}

/// A slot left empty, which `concurrentPerform` does not allow; kept so the result type stays total.
private struct SightlineParallelError: Error {}
