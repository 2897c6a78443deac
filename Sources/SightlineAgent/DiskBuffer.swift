import Glibc
package import SightlineCore
import SightlineStorageCore
import Synchronization

/// The agent's bounded on-disk queue between its sources and the sender: every batch is durable here before a source
/// moves on, and leaves only once the server acknowledged it.
///
/// ## On disk
/// Segment files `NNNNNNNN.buf` of frames `length: UInt32 LE | crc32c(payload): UInt32 LE | payload`, and a file
/// `cursor` (written atomically) holding the segment and offset of the first frame not yet acknowledged. Opening the
/// buffer checks the frames after the cursor, cuts a torn tail off the last segment, and starts a new segment for
/// appends. Segments wholly before the cursor are deleted after the ``beforeRemoving`` hook ran (the file tailer uses
/// it to persist its read positions, which the frames carry, before the frames go).
///
/// The cursor file is rewritten at most every ``cursorInterval`` (and always before segments are deleted and on
/// ``close()``), not on every acknowledgement: after a crash the frames acknowledged in that last interval are read
/// again. They are sent again under the ids they had (their positions), which the server already accepted, so they
/// are not stored twice — two fsyncs per batch saved for at most a second of repeated sends after a crash.
///
/// Appends are durable (fdatasync) before they are visible to ``first()``; the sync runs outside the lock the sender
/// takes, so reading and acknowledging never wait for an append's disk flush.
///
/// A frame's ``Position`` names it for ever: the sender uses it in the batch id, so a batch re-sent after a restart
/// carries the id the server already knows.
package final class DiskBuffer: Sendable {
    /// Where a frame starts.
    package struct Position: Sendable, Hashable, Comparable, CustomStringConvertible {
        package var segment: Int
        package var offset: Int64
        package init(segment: Int, offset: Int64) {
            self.segment = segment
            self.offset = offset
        }
        package static func < (a: Position, b: Position) -> Bool { (a.segment, a.offset) < (b.segment, b.offset) }
        package var description: String { "\(segment)-\(offset)" }
    }

    /// One queued frame.
    package struct Frame: Sendable {
        /// Where it starts.
        package var position: Position
        /// Where the next frame starts: acknowledge this to remove the frame.
        package var next: Position
        package var payload: [UInt8]
    }

    /// What happens to an append that does not fit.
    package enum WhenFull: String, Sendable {
        /// The append is refused; the caller waits and tries again (files).
        case block
        /// The oldest frames are dropped to make room (UDP sources cannot wait).
        case dropOldest = "drop_oldest"
    }

    /// The buffer's directory.
    package let directory: String
    /// The most bytes the segment files may hold.
    package let maxBytes: Int64
    /// A segment is closed once it holds this many bytes.
    package let segmentBytes: Int64
    /// The longest the cursor file may lag behind acknowledgements.
    package let cursorInterval: Duration

    private struct State {
        var writeSegment: Int
        var writeFD: Int32
        var writeBytes: Int64
        /// Sizes of every segment file, including the one being written.
        var sizes: [Int: Int64]
        /// The first unacknowledged frame.
        var cursor: Position
        /// The cursor as the cursor file holds it, and when that was written.
        var persistedCursor: Position
        var persistedAt: ContinuousClock.Instant
        /// Frames dropped by ``WhenFull/dropOldest``.
        var dropped: Int = 0
    }

    private let state: Mutex<State>
    /// Held by an append from its write through its fdatasync, so that appends stay in order and ``close()`` does not
    /// close the segment under a sync.
    private let appending = Mutex(())

    /// Opens (creating) the buffer in `directory`.
    /// - Throws: `io` when a file call fails; `dataCorrupted` when a segment before the last is damaged after the cursor.
    package init(directory: String, maxBytes: Int64, segmentBytes: Int64 = 8 << 20, cursorInterval: Duration = .seconds(1)) throws {
        self.directory = directory
        self.maxBytes = max(maxBytes, 1 << 16)
        self.segmentBytes = max(4096, min(segmentBytes, self.maxBytes / 4))
        self.cursorInterval = cursorInterval
        try POSIXFile.createDirectory(directory)
        var numbers: [Int] = []
        for name in try POSIXFile.listDirectory(directory) where name.hasSuffix(".buf") {
            if let number = Int(name.dropLast(4)) { numbers.append(number) }
        }
        numbers.sort()
        var cursor = Position(segment: numbers.first ?? 1, offset: 0)
        let cursorPath = directory + "/cursor"
        if access(cursorPath, F_OK) == 0 {
            let bytes = try POSIXFile.readAll(cursorPath)
            cursor = try bytes.withUnsafeBytes { buffer in
                var reader = ByteReader(buffer)
                return Position(segment: Int(try reader.readVarint()), offset: Int64(try reader.readVarint()))
            }
        }
        var sizes: [Int: Int64] = [:]
        for (index, number) in numbers.enumerated() {
            let path = Self.path(directory, number)
            if number < cursor.segment {
                try POSIXFile.remove(path)
                continue
            }
            let bytes = try POSIXFile.readAll(path)
            let valid = Self.validLength(bytes)
            if valid < bytes.count {
                guard index == numbers.count - 1 else {
                    throw SightlineError(.dataCorrupted, "agent buffer segment \(path) is damaged at byte offset \(valid)")
                }
                let fd = try POSIXFile.open(path, O_WRONLY)
                defer { POSIXFile.close(fd) }
                try POSIXFile.truncate(fd, to: Int64(valid), path: path)
                try POSIXFile.fsync(fd, path: path)
            }
            sizes[number] = Int64(valid)
        }
        let writeSegment = max((numbers.last ?? 0) + 1, cursor.segment)
        if numbers.isEmpty || cursor.segment > (numbers.last ?? 0) { cursor = Position(segment: writeSegment, offset: 0) }
        let fd = try POSIXFile.open(Self.path(directory, writeSegment), O_WRONLY | O_CREAT | O_TRUNC)
        try POSIXFile.fsyncDirectory(directory)
        sizes[writeSegment] = 0
        state = Mutex(
            State(
                writeSegment: writeSegment, writeFD: fd, writeBytes: 0, sizes: sizes, cursor: cursor, persistedCursor: cursor,
                persistedAt: .now))
    }

    private static func path(_ directory: String, _ number: Int) -> String {
        let digits = String(number)
        return directory + "/" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits + ".buf"
    }

    /// The length of the prefix of `bytes` made of whole, intact frames.
    private static func validLength(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while buffer.count - offset >= 8 {
                let length = Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                let crc = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
                guard length > 0, buffer.count - offset - 8 >= length else { break }
                let payload = UnsafeRawBufferPointer(rebasing: buffer[(offset + 8)..<(offset + 8 + length)])
                guard CRC32C.checksum(payload) == crc else { break }
                offset += 8 + length
            }
            return offset
        }
    }

    /// The bytes the segment files hold, acknowledged frames of the first segment included.
    package var totalBytes: Int64 { state.withLock { $0.sizes.values.reduce(0, +) } }

    /// Bytes queued and not yet acknowledged.
    package var pendingBytes: Int64 {
        state.withLock { state in
            state.sizes.filter { $0.key >= state.cursor.segment }.values.reduce(0, +) - state.cursor.offset
        }
    }

    /// Frames dropped to make room.
    package var dropped: Int { state.withLock { $0.dropped } }

    /// Appends `payload` durably (written and fdatasynced).
    /// - Returns: false when the frame does not fit and `whenFull` is ``WhenFull/block`` (nothing was written).
    /// - Throws: `io` when writing fails; `tooLarge` for a payload larger than a quarter of the buffer.
    @discardableResult
    package func append(_ payload: [UInt8], whenFull: WhenFull) throws -> Bool {
        guard !payload.isEmpty else { return true }
        guard Int64(payload.count) + 8 <= maxBytes / 4 else {
            throw SightlineError(.tooLarge, "a batch of \(payload.count) bytes exceeds a quarter of the agent buffer (buffer.max_bytes)")
        }
        var frame = ByteWriter(capacity: payload.count + 8)
        frame.writeUInt32LE(UInt32(payload.count))
        frame.writeUInt32LE(CRC32C.checksum(payload))
        frame.writeRaw(payload)
        return try appending.withLock { _ throws -> Bool in
            let written = try state.withLock { state throws -> (fd: Int32, segment: Int, end: Int64)? in
                var total = state.sizes.values.reduce(0, +)
                while total + Int64(frame.bytes.count) > maxBytes {
                    guard whenFull == .dropOldest, try dropOldestFrame(&state) else { return nil }
                    total = state.sizes.values.reduce(0, +)
                }
                if state.writeBytes > 0 && state.writeBytes + Int64(frame.bytes.count) > segmentBytes {
                    try POSIXFile.fsync(state.writeFD, path: Self.path(directory, state.writeSegment))
                    POSIXFile.close(state.writeFD)
                    state.writeSegment += 1
                    state.writeFD = try POSIXFile.open(Self.path(directory, state.writeSegment), O_WRONLY | O_CREAT | O_TRUNC)
                    state.writeBytes = 0
                    state.sizes[state.writeSegment] = 0
                    try POSIXFile.fsyncDirectory(directory)
                }
                let path = Self.path(directory, state.writeSegment)
                do {
                    try frame.bytes.withUnsafeBytes { try POSIXFile.writeAll(state.writeFD, $0, path: path) }
                } catch {
                    cutToDurableFrames(&state)
                    throw error
                }
                state.writeBytes += Int64(frame.bytes.count)
                return (state.writeFD, state.writeSegment, state.writeBytes)
            }
            guard let written else { return false }
            // The frame becomes visible (its segment's size) once it is durable; the sender is not held up meanwhile.
            guard fdatasync(written.fd) == 0 else {
                let error = POSIXFile.error("fdatasync", Self.path(directory, written.segment))
                state.withLock { state in
                    if state.writeSegment == written.segment { cutToDurableFrames(&state) }
                }
                throw error
            }
            state.withLock { $0.sizes[written.segment] = written.end }
            return true
        }
    }

    /// Cuts the segment being written back to its last durable frame (what its published size covers), so that
    /// whatever part of a failed append reached the file is gone and the next frame starts where it should.
    private func cutToDurableFrames(_ state: inout State) {
        state.writeBytes = state.sizes[state.writeSegment] ?? 0
        _ = ftruncate(state.writeFD, off_t(state.writeBytes))
        _ = lseek(state.writeFD, off_t(state.writeBytes), SEEK_SET)
    }

    /// Moves the cursor past the oldest unacknowledged frame, deleting its segment once passed; false when none is left.
    private func dropOldestFrame(_ state: inout State) throws -> Bool {
        guard let frame = try frame(at: state.cursor, state: &state) else { return false }
        state.cursor = frame.next
        state.dropped += 1
        try removePassedSegments(&state)
        return true
    }

    /// The first unacknowledged frame, or nil when everything was acknowledged.
    package func first() throws -> Frame? {
        try state.withLock { state in try frame(at: state.cursor, state: &state) }
    }

    /// The frame at `position` (a ``Frame/next``), or at the cursor when that is further; nil when there is none yet.
    /// The sender reads ahead of the cursor with it while earlier frames wait for their answers.
    package func frame(at position: Position) throws -> Frame? {
        try state.withLock { state in try frame(at: max(position, state.cursor), state: &state) }
    }

    /// The frame at `position` (moving on to the next segment at the end of a closed one).
    private func frame(at start: Position, state: inout State) throws -> Frame? {
        var position = start
        while true {
            let size = state.sizes[position.segment] ?? 0
            if position.offset + 8 <= size { break }
            guard position.segment < state.writeSegment else { return nil }
            position = Position(segment: position.segment + 1, offset: 0)
            if position.segment > state.cursor.segment && start == state.cursor { state.cursor = position }
        }
        let path = Self.path(directory, position.segment)
        let fd = try POSIXFile.open(path, O_RDONLY)
        defer { POSIXFile.close(fd) }
        var header = [UInt8](repeating: 0, count: 8)
        try read(fd, into: &header, at: position.offset, path: path)
        let length = Int(UInt32(header[0]) | UInt32(header[1]) << 8 | UInt32(header[2]) << 16 | UInt32(header[3]) << 24)
        let crc = UInt32(header[4]) | UInt32(header[5]) << 8 | UInt32(header[6]) << 16 | UInt32(header[7]) << 24
        var payload = [UInt8](repeating: 0, count: length)
        try read(fd, into: &payload, at: position.offset + 8, path: path)
        guard CRC32C.checksum(payload) == crc else {
            throw SightlineError(.dataCorrupted, "agent buffer segment \(path) is damaged at byte offset \(position.offset)")
        }
        return Frame(position: position, next: Position(segment: position.segment, offset: position.offset + 8 + Int64(length)), payload: payload)
    }

    private func read(_ fd: Int32, into bytes: inout [UInt8], at offset: Int64, path: String) throws {
        let count = bytes.count
        var filled = 0
        try bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while filled < count {
                let got = pread(fd, base + filled, count - filled, off_t(offset) + off_t(filled))
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else { throw POSIXFile.error("pread", path) }
                filled += got
            }
        }
    }

    /// Acknowledges every frame before `next` (a ``Frame/next``); deletes segments no longer needed, after calling
    /// `beforeRemoving` (which must persist whatever state those frames carry).
    /// The cursor file is rewritten when segments are to be deleted or ``cursorInterval`` has passed since it was.
    package func acknowledge(through next: Position, beforeRemoving: () throws -> Void = {}) throws {
        try state.withLock { state in
            guard next > state.cursor else { return }
            state.cursor = next
            if state.sizes.keys.contains(where: { $0 < next.segment }) {
                try persistCursor(&state)
                try beforeRemoving()
                try removePassedSegments(&state)
            } else if ContinuousClock.now - state.persistedAt >= cursorInterval {
                try persistCursor(&state)
            }
        }
    }

    /// Writes the cursor file (atomically) when it is behind.
    private func persistCursor(_ state: inout State) throws {
        guard state.persistedCursor != state.cursor else { return }
        var writer = ByteWriter(capacity: 16)
        writer.writeVarint(UInt64(state.cursor.segment))
        writer.writeVarint(UInt64(state.cursor.offset))
        try POSIXFile.writeAtomically(writer.bytes, to: directory + "/cursor")
        state.persistedCursor = state.cursor
        state.persistedAt = .now
    }

    private func removePassedSegments(_ state: inout State) throws {
        for number in state.sizes.keys.sorted() where number < state.cursor.segment {
            try POSIXFile.remove(Self.path(directory, number))
            state.sizes[number] = nil
        }
    }

    /// Calls `body` with every frame still on disk (acknowledged ones of kept segments included), oldest first.
    /// Used at start-up to recover state the frames carry.
    package func scanAll(_ body: ([UInt8]) throws -> Void) throws {
        let numbers = state.withLock { Array($0.sizes.keys).sorted() }
        for number in numbers {
            let bytes = try POSIXFile.readAll(Self.path(directory, number))
            let valid = Self.validLength(bytes)
            var offset = 0
            while offset < valid {
                let length = Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
                try body(Array(bytes[(offset + 8)..<(offset + 8 + length)]))
                offset += 8 + length
            }
        }
    }

    /// Writes the cursor file and closes the segment being written.
    package func close() {
        appending.withLock { _ in
            state.withLock { state in
                guard state.writeFD >= 0 else { return }
                try? persistCursor(&state)
                _ = fsync(state.writeFD)
                POSIXFile.close(state.writeFD)
                state.writeFD = -1
            }
        }
    }
}
