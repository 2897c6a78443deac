import Glibc
import Logging
import SightlineCore
import Synchronization

/// The loop of the WAL writer thread: takes queued requests, writes them in batches, fsyncs, acknowledges.
///
/// Lives on one thread only, so its fields need no lock; what appenders see goes through `wal.state`.
final class WALWriter {
    private let wal: WriteAheadLog
    private let policy: FsyncPolicy
    private let segmentSize: Int
    private let observer: WALCommitObserver?
    /// The bytes past which a batch is written before the next record is added: a larger queue is split into several
    /// batches.
    private let maxBatchBytes = 8 << 20

    private var fd: Int32
    private var segment: Int
    private var path: String
    /// The size of the segment file: where the next batch starts.
    private var offset: Int64
    /// Whether bytes were written since the last fsync.
    private var dirty = false
    private var lastFsync = ContinuousClock.now
    /// Set once a write could not be undone or an fsync failed: every later request fails with it.
    private var failure: SightlineError?

    /// What records encoded on this thread know about the current segment (``WriteAheadLog/append(encodedBy:onDurable:)``).
    private let scope = WALSeriesScope()
    /// The frames of the batch being gathered, and the records they belong to.
    private var buffer: [UInt8] = []
    private var batch: [(position: WALPosition, onDurable: @Sendable (WALPosition) throws -> Void, continuation: CheckedContinuation<WALPosition, any Error>)] = []

    init(wal: WriteAheadLog, fd: Int32, segment: Int) {
        self.wal = wal
        self.policy = wal.options.fsync
        self.segmentSize = wal.options.segmentSize
        self.observer = wal.options.observer
        self.fd = fd
        self.segment = segment
        self.path = FileNames.segmentPath(wal.directory, segment)
        self.offset = Int64(WALSegmentFormat.headerSize)
        buffer.reserveCapacity(1 << 20)
    }

    /// Runs until a close request has been handled.
    func run() {
        var requests: [Request] = []
        requests.reserveCapacity(1024)
        while true {
            wal.state.withLock { state in
                if state.queue.isEmpty {
                    state.writerIdle = true
                } else {
                    state.writerIdle = false
                    swap(&requests, &state.queue)
                }
            }
            if requests.isEmpty {
                let idleSince = ContinuousClock.now
                waitForWork()
                // After a quiet spell the appenders of the last batch are not coming back: no commit delay.
                if idleSince.duration(to: .now) > .milliseconds(1) { lastAcknowledged = 0 }
                continue
            }
            gatherStragglers(into: &requests)
            for request in requests {
                if handle(request) == .stop { return }
            }
            flush()
            requests.removeAll(keepingCapacity: true)
        }
    }

    private typealias Request = WriteAheadLog.Request

    /// Commit delay: when the last fsynced batch was large (8 or more records), fewer requests are queued now, and
    /// the writer has not been idle for over 1 ms since, the appenders it just released are still coming back;
    /// waiting this long for them merges them into one batch (one fsync) instead of leaving two half-size batches to
    /// alternate. Costs at most this much latency, and only under concurrent load.
    private let gatherDelayMicroseconds: UInt32 = 50
    /// How many appends the last batch acknowledged (counted for the commit delay).
    private var lastAcknowledged = 0

    /// Waits ``gatherDelayMicroseconds`` once and takes what arrived, if the commit delay applies.
    private func gatherStragglers(into requests: inout [Request]) {
        defer { lastAcknowledged = 0 }
        guard policy == .always, lastAcknowledged >= 8, requests.count < lastAcknowledged else { return }
        usleep(gatherDelayMicroseconds)
        wal.state.withLock { state in
            requests.append(contentsOf: state.queue)
            state.queue.removeAll(keepingCapacity: true)
        }
    }

    private enum Next { case go, stop }

    /// Sleeps until signalled; with an interval policy and unsynced bytes, only until the next fsync is due.
    private func waitForWork() {
        guard case .interval(let interval) = policy, dirty, failure == nil else { return wal.wakeup.wait() }
        let due = lastFsync.advanced(by: interval)
        let now = ContinuousClock.now
        if now >= due {
            sync()
        } else {
            wal.wakeup.wait(timeout: now.duration(to: due))
        }
    }

    private func handle(_ request: Request) -> Next {
        switch request {
        case .append(let payload, let crc, let onDurable, let continuation):
            add(onDurable, continuation) { buffer in
                WALSegmentFormat.appendFrame(payload, crc: crc, to: &buffer)
                return payload.count
            }
        case .encode(let encode, let onDurable, let continuation):
            let scope = self.scope
            add(onDurable, continuation) { buffer in
                WALSegmentFormat.appendFrame(to: &buffer) { bytes in
                    var writer = ByteWriter(appendingTo: bytes)
                    bytes = []
                    encode(&writer, scope)
                    bytes = writer.takeBytes()
                }
            }
        case .rotate(let continuation):
            flush()
            let closed = segment
            roll()
            if let failure { continuation.resume(throwing: failure) } else { continuation.resume(returning: closed) }
        case .close:
            flush()
            if failure == nil && policy != .never && dirty { sync() }
            if fd >= 0 { POSIXFile.close(fd) }
            fd = -1
            let waiters = wal.state.withLock { state in
                state.closed = true
                state.currentBytes = offset
                return state.closeWaiters
            }
            for waiter in waiters { waiter.resume() }
            return .stop
        }
        return .go
    }

    /// Adds a record to the batch: `appendFrame` appends its frame to the buffer and returns the payload's size. A
    /// record that would take the segment past its size (and is not its first) is taken back, the batch before it is
    /// written and the segment rolled, and the frame appended again, to the new segment.
    private func add(
        _ onDurable: @escaping @Sendable (WALPosition) throws -> Void, _ continuation: CheckedContinuation<WALPosition, any Error>,
        appendFrame: (inout [UInt8]) -> Int
    ) {
        if let failure { return continuation.resume(throwing: failure) }
        if buffer.count >= maxBatchBytes { flush() }
        var start = buffer.count
        var size = appendFrame(&buffer)
        if offset + Int64(buffer.count) > Int64(segmentSize) && offset + Int64(start) > Int64(WALSegmentFormat.headerSize) {
            buffer.removeSubrange(start...)
            flush()
            roll()
            if let failure { return continuation.resume(throwing: failure) }
            start = buffer.count
            size = appendFrame(&buffer)
        }
        guard size > 0, size <= WALSegmentFormat.maxPayloadSize else {
            buffer.removeSubrange(start...)
            scope.forgetUnwritten()  // series the record defined are not in the segment
            return continuation.resume(
                throwing: SightlineError(
                    .tooLarge, "a WAL record of \(size) bytes is outside the 1 to \(WALSegmentFormat.maxPayloadSize)-byte limit"))
        }
        batch.append((WALPosition(segment: segment, offset: offset + Int64(start)), onDurable, continuation))
    }

    /// Writes the gathered batch with one `write()`, fsyncs it per the policy, then runs `onDurable` and resumes
    /// every appender in order.
    private func flush() {
        guard !batch.isEmpty else { return }
        defer {
            batch.removeAll(keepingCapacity: true)
            buffer.removeAll(keepingCapacity: true)
        }
        if let failure { return failBatch(failure) }
        let start = ContinuousClock.now
        do {
            try buffer.withUnsafeBytes { try POSIXFile.writeAll(fd, $0, path: path) }
        } catch {
            let writeError = error as? SightlineError ?? SightlineError(.io, "write \(path)", cause: error)
            // Series the lost records defined are defined again by the next records that name them.
            scope.forgetUnwritten()
            // Cut off what part of the batch reached the file, so later records do not follow a torn frame.
            do {
                try POSIXFile.truncate(fd, to: offset, path: path)
                wal.logger.error("WAL write failed; batch refused", metadata: ["wal.segment": "\(path)", "error": "\(writeError)"])
            } catch {
                poison(writeError)
            }
            return failBatch(writeError)
        }
        let written = ContinuousClock.now
        offset += Int64(buffer.count)
        dirty = true
        let syncNow: Bool
        switch policy {
        case .always: syncNow = true
        case .interval(let interval): syncNow = lastFsync.duration(to: written) >= interval
        case .never: syncNow = false
        }
        if syncNow { sync() }
        if let failure { return failBatch(failure) }
        let synced = ContinuousClock.now
        wal.state.withLock { $0.currentBytes = offset }
        observer?(batch.count, buffer.count, seconds(start.duration(to: written)), syncNow ? seconds(written.duration(to: synced)) : 0)
        lastAcknowledged += batch.count
        for record in batch {
            do {
                try record.onDurable(record.position)
                record.continuation.resume(returning: record.position)
            } catch {
                record.continuation.resume(throwing: error)
            }
        }
    }

    /// Fsyncs the segment; a failure poisons the log (after a failed fsync the page cache state is unknown).
    private func sync() {
        guard fd >= 0 else { return }
        do {
            try POSIXFile.fsync(fd, path: path)
            dirty = false
            lastFsync = .now
        } catch {
            poison(error as? SightlineError ?? SightlineError(.io, "fsync \(path)", cause: error))
        }
    }

    /// Closes the current segment (fsynced) and creates the next one.
    private func roll() {
        guard failure == nil else { return }
        if policy != .never && dirty { sync() }
        guard failure == nil else { return }
        POSIXFile.close(fd)
        fd = -1
        let sealed = segment
        let sealedBytes = offset
        do {
            fd = try WriteAheadLog.createSegment(directory: wal.directory, number: sealed + 1, sync: policy != .never)
        } catch {
            poison(error as? SightlineError ?? SightlineError(.io, "create WAL segment", cause: error))
            return
        }
        segment = sealed + 1
        path = FileNames.segmentPath(wal.directory, segment)
        scope.startSegment()
        offset = Int64(WALSegmentFormat.headerSize)
        dirty = false
        wal.state.withLock { state in
            state.sealed[sealed] = sealedBytes
            state.currentSegment = segment
            state.currentBytes = offset
        }
    }

    /// Stops the log taking appends: records after a failed fsync or an unrepaired write could not be trusted.
    private func poison(_ error: SightlineError) {
        failure = error
        wal.logger.error("WAL write path failed; refusing further appends", metadata: ["wal.segment": "\(path)", "error": "\(error)"])
        wal.state.withLock { state in
            if !state.closeRequested { state.refusal = error }
        }
    }

    private func failBatch(_ error: SightlineError) {
        for record in batch { record.continuation.resume(throwing: error) }
    }

    private func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
