import Glibc
package import Logging
package import SightlineCore
import Foundation
import Synchronization

/// A write-ahead log: numbered segment files of checksummed records, appended with group commit.
///
/// ## On disk
/// A directory of segment files named `00000001.wal`, `00000002.wal`, … (see `FileNames`). Each segment is
///
/// ```
/// header := "SWAL" | version: UInt32 LE (= 1)                                  8 bytes
/// frame  := length: UInt32 LE | crc32c(payload): UInt32 LE | payload           repeated
/// ```
///
/// Payloads are opaque, 1 byte to 1 GiB. A segment is closed when the next record would take it past
/// ``WALOptions/segmentSize`` (a larger record goes alone into its own segment), on ``rotate()`` and on ``close()``.
/// Every opening of the log starts a new segment: a recovered segment is never appended to.
///
/// ## Writing
/// One dedicated writer thread (not a task on the cooperative pool, since `write()` and `fsync()` block) takes every
/// append queued since its last batch, writes their frames with one `write()`, fsyncs once (per ``FsyncPolicy``),
/// then calls each record's `onDurable` in WAL order and resumes its appender. Under load every batch therefore
/// holds the appends that arrived while the previous one was being fsynced. With ``FsyncPolicy/always``, when the
/// last batch held 8 or more records and fewer requests are waiting now, the writer first waits 50 µs (a commit delay)
/// so the appenders it just released can join: one full batch per fsync instead of two alternating half batches.
///
/// ## Recovery
/// ``init(directory:options:logger:)`` checks every record of every segment. Damage in the last segment is what a
/// crash mid-write leaves: the segment is truncated before the first bad record, reported in ``recoveryReport`` and
/// logged as a warning. Damage in an earlier segment means acknowledged data is broken: opening throws
/// `dataCorrupted` naming the file and byte offset, and the operator decides.
///
/// ```swift
/// let wal = try WriteAheadLog(directory: "/var/lib/sightline/wal", logger: logger)
/// _ = try wal.replay(afterSegment: store.persistedSegment) { position, payload in try store.apply(decode(payload), at: position) }
/// let position = try await wal.append(bytes) { position in try store.apply(batch, at: position) }
/// ```
///
/// Call ``close()`` before dropping the log: the writer thread keeps it alive until then.
package final class WriteAheadLog: Sendable {
    /// The directory holding the segment files.
    package let directory: String
    /// The options the log was opened with.
    package let options: WALOptions
    /// What opening the log found and repaired.
    package let recoveryReport: WALRecoveryReport

    /// The observer called after every committed batch (``WALOptions/observer``).
    package var onCommit: WALCommitObserver? { options.observer }

    let state: Mutex<State>
    let wakeup = WakeupEvent()
    let logger: Logger

    /// A request queued for the writer thread, in the order appenders made them.
    enum Request: Sendable {
        /// A payload, its CRC-32C (computed by the appender, off the writer thread), its callback and its appender.
        case append([UInt8], UInt32, @Sendable (WALPosition) throws -> Void, CheckedContinuation<WALPosition, any Error>)
        /// A payload the writer thread encodes into its buffer, for the segment the scope describes.
        case encode(RecordEncoder, @Sendable (WALPosition) throws -> Void, CheckedContinuation<WALPosition, any Error>)
        case rotate(CheckedContinuation<Int, any Error>)
        case close
    }

    /// What appenders and the writer thread share.
    struct State: Sendable {
        /// Requests not yet taken by the writer.
        var queue: [Request] = []
        /// Whether the writer is (about to be) waiting on `wakeup` and needs a signal.
        var writerIdle = false
        /// Why new appends and rotations are refused: closed, or a failed write or fsync.
        var refusal: SightlineError?
        /// Whether ``close()`` was called.
        var closeRequested = false
        /// Whether the writer has finished closing.
        var closed = false
        /// Callers of ``close()`` waiting for the writer to finish.
        var closeWaiters: [CheckedContinuation<Void, any Error>] = []
        /// Whether any append was queued (replay is refused after that).
        var hasAppended = false
        /// The segment being written and its size in bytes.
        var currentSegment: Int
        var currentBytes: Int64
        /// Every other segment file and its size in bytes.
        var sealed: [Int: Int64]
    }

    /// Opens the log in `directory`, creating the directory if needed.
    ///
    /// Scans every segment, truncates a torn tail of the last one (logged as a warning and reported in
    /// ``recoveryReport``), deletes segments that hold no record, and starts a new segment after the last existing one,
    /// where all appends go.
    /// - Throws: `dataCorrupted` naming the file and byte offset when a record in an earlier segment fails its length
    ///   or checksum check, or a segment does not start with a WAL header; `io` when a file call fails.
    package init(directory: String, options: WALOptions = .init(), logger: Logger) throws {
        self.directory = directory
        self.options = options
        self.logger = logger
        try POSIXFile.createDirectory(directory)

        let numbers = try POSIXFile.listDirectory(directory).compactMap { FileNames.segmentNumber(fileName: $0) }.sorted()
        var sealed: [Int: Int64] = [:]
        var records = 0
        var droppedBytes: Int64 = 0
        var droppedInSegment: Int?
        var removedEmpty = false
        for (index, number) in numbers.enumerated() {
            let path = FileNames.segmentPath(directory, number)
            let bytes = try POSIXFile.readAll(path)
            let result = bytes.withUnsafeBytes { WALSegmentFormat.scan($0) { _, _ in } }
            records += result.records
            var size = Int64(bytes.count)
            if let damage = result.damage {
                guard index == numbers.count - 1, damage.isTornTail else {
                    throw SightlineError(
                        .dataCorrupted,
                        "WAL segment \(path) is damaged at byte offset \(result.validEnd): \(damage); "
                            + "\(size - Int64(result.validEnd)) bytes of acknowledged records from there on cannot be read"
                    )
                }
                let fd = try POSIXFile.open(path, O_WRONLY)
                defer { POSIXFile.close(fd) }
                try POSIXFile.truncate(fd, to: Int64(result.validEnd), path: path)
                try POSIXFile.fsync(fd, path: path)
                droppedBytes = size - Int64(result.validEnd)
                droppedInSegment = number
                size = Int64(result.validEnd)
                logger.warning(
                    "WAL: cut a torn tail off the last segment",
                    metadata: [
                        "wal.segment": "\(path)", "wal.offset": "\(result.validEnd)",
                        "wal.dropped_bytes": "\(droppedBytes)", "wal.reason": "\(damage)",
                    ]
                )
            }
            if result.records == 0 {
                // A segment without records (a server that started and stopped without ingesting) holds nothing to
                // replay; without this, every restart of an idle server would leave one more file behind.
                try POSIXFile.remove(path)
                removedEmpty = true
                continue
            }
            sealed[number] = size
        }
        if removedEmpty { try POSIXFile.fsyncDirectory(directory) }
        recoveryReport = WALRecoveryReport(
            segments: numbers.count, records: records, droppedBytes: droppedBytes, droppedInSegment: droppedInSegment
        )

        let current = (numbers.last ?? 0) + 1
        let fd = try Self.createSegment(directory: directory, number: current, sync: options.fsync != .never)
        state = Mutex(State(currentSegment: current, currentBytes: Int64(WALSegmentFormat.headerSize), sealed: sealed))
        logger.debug(
            "WAL opened",
            metadata: [
                "wal.directory": "\(directory)", "wal.segments": "\(numbers.count)", "wal.records": "\(records)",
                "wal.current_segment": "\(current)",
            ]
        )

        let thread = Thread { [self] in
            let writer = WALWriter(wal: self, fd: fd, segment: current)
            writer.run()
        }
        thread.name = "sightline-wal-writer"
        thread.start()
    }

    /// Creates segment `number` with its header; with `sync`, fsyncs it and the directory so the new file is durable.
    static func createSegment(directory: String, number: Int, sync: Bool) throws -> Int32 {
        let path = FileNames.segmentPath(directory, number)
        let fd = try POSIXFile.open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND)
        do {
            try WALSegmentFormat.header.withUnsafeBytes { try POSIXFile.writeAll(fd, $0, path: path) }
            if sync {
                try POSIXFile.fsync(fd, path: path)
                try POSIXFile.fsyncDirectory(directory)
            }
            return fd
        } catch {
            POSIXFile.close(fd)
            throw error
        }
    }

    /// The number of the segment being written.
    package var currentSegment: Int { state.withLock { $0.currentSegment } }

    /// The total size in bytes of all segment files, including the one being written.
    package var totalBytes: Int64 { state.withLock { $0.sealed.values.reduce($0.currentBytes, +) } }

    /// Calls `body` with the position and payload of every record in segments after `afterSegment`, in WAL order,
    /// and returns how many records it replayed.
    ///
    /// Only valid at start-up, before the first ``append(_:onDurable:)``. The payload buffer is valid only during the
    /// call. An error thrown by `body` stops the replay and is rethrown.
    /// - Throws: `internal` when called after an append; `dataCorrupted` or `io` when a segment cannot be read.
    package func replay(afterSegment: Int, _ body: (WALPosition, UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let numbers = try state.withLock { state throws(SightlineError) -> [Int] in
            guard !state.hasAppended else {
                throw SightlineError(.internal, "WAL replay was called after the first append")
            }
            return (Array(state.sealed.keys) + [state.currentSegment]).filter { $0 > afterSegment }.sorted()
        }
        var count = 0
        for number in numbers {
            let path = FileNames.segmentPath(directory, number)
            let bytes = try POSIXFile.readAll(path)
            let result = try bytes.withUnsafeBytes { buffer in
                try WALSegmentFormat.scan(buffer) { offset, payload in
                    try body(WALPosition(segment: number, offset: Int64(offset)), payload)
                }
            }
            if let damage = result.damage {
                throw SightlineError(.dataCorrupted, "WAL segment \(path) is damaged at byte offset \(result.validEnd): \(damage)")
            }
            count += result.records
        }
        return count
    }

    /// Appends one record and returns its position once it is durable and `onDurable` has run.
    ///
    /// Concurrent appends are gathered by the writer thread into one `write()` and one fsync (group commit).
    /// `onDurable` runs on the writer thread, in WAL order, once the record is durable per ``WALOptions/fsync``
    /// (after the fsync for ``FsyncPolicy/always``), before the next batch is written and before any segment change.
    /// It must not block for long: every other append waits for it.
    ///
    /// If `onDurable` throws, this append throws that error, **but the record is in the WAL** and will be replayed
    /// after a restart. Cancelling the calling task does not withdraw the record.
    /// - Throws: `invalidArgument` for an empty payload, `tooLarge` above 1 GiB, `unavailable` after ``close()``,
    ///   `io` (with the `errno` text) when the write or fsync fails. After a failed fsync, or a failed write that
    ///   could not be cut off again, the log refuses every further append with that error; reopen it to recover.
    package func append(_ payload: [UInt8], onDurable: @escaping @Sendable (WALPosition) throws -> Void) async throws -> WALPosition {
        guard !payload.isEmpty else { throw SightlineError(.invalidArgument, "a WAL record cannot be empty") }
        guard payload.count <= WALSegmentFormat.maxPayloadSize else {
            throw SightlineError(.tooLarge, "a WAL record of \(payload.count) bytes exceeds the \(WALSegmentFormat.maxPayloadSize)-byte limit")
        }
        let crc = CRC32C.checksum(payload)
        return try await enqueueAppend { .append(payload, crc, onDurable, $0) }
    }

    /// Appends the payload `encode` writes, as ``append(_:onDurable:)`` does, but encoded on the writer thread for
    /// the segment the record lands in: `encode` appends the payload to the writer's buffer (never nothing) and may
    /// use and change the scope's state (``WALSeriesScope``), which starts over with every segment. It may run twice
    /// for one record: when the record does not fit the segment, its first encoding is taken back and it is encoded
    /// again for the next segment. It must not block.
    /// - Throws: what ``append(_:onDurable:)`` throws; `tooLarge` when the payload exceeds 1 GiB.
    package func append(encodedBy encode: @escaping RecordEncoder, onDurable: @escaping @Sendable (WALPosition) throws -> Void) async throws -> WALPosition {
        try await enqueueAppend { .encode(encode, onDurable, $0) }
    }

    /// How ``append(encodedBy:onDurable:)`` writes a payload: appended to the writer's buffer for the scope's segment.
    package typealias RecordEncoder = @Sendable (_ buffer: inout ByteWriter, _ scope: WALSeriesScope) -> Void

    private func enqueueAppend(_ request: (CheckedContinuation<WALPosition, any Error>) -> Request) async throws -> WALPosition {
        try await withCheckedThrowingContinuation { continuation in
            let (refusal, signal) = state.withLock { state -> (SightlineError?, Bool) in
                if let refusal = state.refusal { return (refusal, false) }
                state.queue.append(request(continuation))
                state.hasAppended = true
                return (nil, wakeWriter(&state))
            }
            if let refusal { return continuation.resume(throwing: refusal) }
            if signal { wakeup.signal() }
        }
    }

    /// Closes the current segment (fsynced unless the policy is ``FsyncPolicy/never``), starts a new one, and returns
    /// the number of the closed segment.
    ///
    /// Runs on the writer thread after every append queued before it: when it returns, every record of the closed
    /// segments has been acknowledged and had its `onDurable` called.
    /// - Throws: `unavailable` after ``close()``; `io` when a file call fails.
    package func rotate() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let (refusal, signal) = state.withLock { state -> (SightlineError?, Bool) in
                if let refusal = state.refusal { return (refusal, false) }
                state.queue.append(.rotate(continuation))
                return (nil, wakeWriter(&state))
            }
            if let refusal { return continuation.resume(throwing: refusal) }
            if signal { wakeup.signal() }
        }
    }

    /// Deletes the segment files numbered `segment` and below, except the one being written, then fsyncs the directory.
    /// - Throws: `io` when a file cannot be deleted or the directory not fsynced.
    package func removeSegments(through segment: Int) throws {
        let victims = state.withLock { state -> [Int] in
            let victims = state.sealed.keys.filter { $0 <= segment && $0 != state.currentSegment }.sorted()
            for number in victims { state.sealed[number] = nil }
            return victims
        }
        guard !victims.isEmpty else { return }
        for number in victims { try POSIXFile.remove(FileNames.segmentPath(directory, number)) }
        try POSIXFile.fsyncDirectory(directory)
    }

    /// Writes and fsyncs every queued append, closes the segment and stops the writer thread.
    ///
    /// Appends and rotations after this is called throw `unavailable`. Calling it again waits for the same close.
    package func close() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let (done, signal) = state.withLock { state -> (Bool, Bool) in
                if state.closed { return (true, false) }
                state.closeWaiters.append(continuation)
                state.refusal = SightlineError(.unavailable, "the WAL in \(directory) is closed")
                guard !state.closeRequested else { return (false, false) }
                state.closeRequested = true
                state.queue.append(.close)
                return (false, wakeWriter(&state))
            }
            if done { continuation.resume() }
            if signal { wakeup.signal() }
        }
    }

    /// Marks the writer busy and says whether it must be signalled, after a request was queued.
    private func wakeWriter(_ state: inout State) -> Bool {
        guard state.writerIdle else { return false }
        state.writerIdle = false
        return true
    }
}
