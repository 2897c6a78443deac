package import SightlineCore
import SightlineStorageCore
import Foundation
import Synchronization

/// The write path every ClickHouse store shares: rows applied from the WAL are encoded as RowBinary into a buffer per
/// table, and inserted in WAL order when the buffer passes its size (``append(_:)`` starts that insert), when
/// ``flush()`` is called by the store's timer, or when the pipeline checkpoints (``persist(throughSegment:)``).
///
/// What was inserted is remembered as the highest WAL segment whose rows are all in ClickHouse, in a small file in
/// the server's data directory, so a restart replays the segments after it. A crash between an insert and that file's
/// update replays rows ClickHouse already has: delivery into ClickHouse is at least once, never lost.
package final class ClickHouseTableWriter: Sendable {
    package let table: String
    package let columns: [String]
    private let client: ClickHouseClient
    private let checkpointPath: String
    /// A buffer over this size is inserted at the next apply's flush check.
    private let maxBufferBytes: Int

    private struct State {
        var buffer = ByteWriter(capacity: 1 << 16)
        /// Segments whose rows are all inserted.
        var persistedSegment: Int
        /// The last flush queued: each flush waits for the one before, so rows reach ClickHouse in WAL order.
        var lastFlush: Task<Void, any Error>?
    }
    private let state: Mutex<State>
    /// Whether an insert started by ``append(_:)`` because the buffer was full is still running.
    private let backgroundInsert = Atomic<Bool>(false)

    /// - Parameter checkpointPath: the file that remembers the last fully inserted WAL segment.
    package init(client: ClickHouseClient, table: String, columns: [String], checkpointPath: String, maxBufferBytes: Int = 8 << 20) throws {
        self.client = client
        self.table = table
        self.columns = columns
        self.checkpointPath = checkpointPath
        self.maxBufferBytes = maxBufferBytes
        var persisted = -1
        if let bytes = try? POSIXFile.readAll(checkpointPath) {
            guard let value = Int(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw SightlineError(.dataCorrupted, "ClickHouse checkpoint \(checkpointPath) does not hold a segment number")
            }
            persisted = value
        }
        state = Mutex(State(persistedSegment: persisted))
    }

    /// The highest WAL segment whose rows are all in ClickHouse; -1 when none are.
    package var persistedSegment: Int { state.withLock { $0.persistedSegment } }

    /// Appends the rows `encode` writes for a batch applied from the WAL. A buffer past its size is inserted at once,
    /// in the background (one such insert at a time); its rows stay buffered when that fails, for the next flush.
    package func append(_ encode: (inout ByteWriter) -> Void) {
        let full = state.withLock { state -> Bool in
            encode(&state.buffer)
            return state.buffer.bytes.count >= maxBufferBytes
        }
        guard full, backgroundInsert.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        Task {
            try? await self.flush()
            self.backgroundInsert.store(false, ordering: .releasing)
        }
    }

    /// Inserts what is buffered now. Rows stay buffered (and go with the next flush) when the insert fails.
    /// - Parameter completing: a WAL segment whose rows were all appended before this call: once the insert
    ///   succeeds it is recorded as persisted.
    package func flush(completing segment: Int? = nil) async throws {
        let task = state.withLock { state -> Task<Void, any Error> in
            let previous = state.lastFlush
            let task = Task {
                _ = try? await previous?.value
                try await self.insertBuffered(completing: segment)
            }
            state.lastFlush = task
            return task
        }
        try await task.value
    }

    /// Inserts everything applied from segments up to `segment` and records them as persisted.
    package func persist(throughSegment segment: Int) async throws {
        try await flush(completing: segment)
    }

    private func insertBuffered(completing segment: Int?) async throws {
        let bytes = state.withLock { state -> [UInt8] in
            let taken = state.buffer.bytes
            state.buffer = ByteWriter(capacity: 1 << 16)
            return taken
        }
        do {
            try await client.insert(into: table, columns: columns, rowBinary: bytes)
        } catch {
            // Put the rows back in front of anything appended meanwhile, keeping WAL order.
            state.withLock { state in
                var restored = ByteWriter(capacity: bytes.count + state.buffer.bytes.count)
                restored.writeRaw(bytes)
                restored.writeRaw(state.buffer.bytes)
                state.buffer = restored
            }
            throw error
        }
        if let segment { try record(persisted: segment) }
    }

    private func record(persisted segment: Int) throws {
        let advance = state.withLock { state -> Bool in
            guard segment > state.persistedSegment else { return false }
            state.persistedSegment = segment
            return true
        }
        if advance { try POSIXFile.writeAtomically(Array("\(segment)\n".utf8), to: checkpointPath) }
    }
}
