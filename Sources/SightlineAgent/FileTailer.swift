import Foundation
import Glibc
package import SightlineCore
import SightlineIngest
import SightlineStorageCore
import Synchronization

/// One file source's settings (`sources.files[]` in the agent config).
package struct FileSourceConfig: Sendable {
    /// Glob patterns of the files to follow.
    package var paths: [String]
    /// Where a file seen for the first time starts: at its beginning, or at its end.
    package var startAtBeginning = true
    /// A line matching this starts a record; other lines are appended to the previous one (stack traces). Nil: every
    /// line is a record.
    package var multilineStart: String?
    /// Longer records are cut to this many bytes (and counted).
    package var maxRecordBytes = 256 * 1024
    /// Resource attributes of every record (`service.name` etc.); the agent adds `host.name`.
    package var resource: [String: String] = [:]
    /// The transform chain run on every record.
    package var transforms: [Transform] = []

    package init(paths: [String]) { self.paths = paths }
}

/// Follows the files of every file source and turns their lines into buffered batches.
///
/// Files are known by `device:inode`; a checkpointed position is trusted only when the file still starts with the
/// fingerprint recorded with it (a reused inode starts again from 0).
/// - Rename rotation: the renamed file stays open under its inode and is read to its end; the new file at the path
///   is a new inode and is read from its start.
/// - Copytruncate: the file's size falling below the read position means it was truncated: reading restarts at 0.
///   A new file whose fingerprint equals a followed file's (the copy, when the glob matches it) starts at that file's
///   position, so the lines between the last read and the copy are read from the copy, not lost or repeated.
///
/// Not thread-safe: one thread runs ``poll()``.
package final class FileTailer {
    /// How many leading bytes identify a file.
    package static let fingerprintBytes = 64

    private struct OpenFile {
        var path: String
        var fd: Int32
        var key: String
        var source: Int
        var offset: Int64
        var fingerprint: [UInt8]
        /// Polls in a row that found the file gone from every glob and without new data.
        var goneFor = 0
    }

    private let sources: [FileSourceConfig]
    private let multiline: [NSRegularExpression?]
    private let hostName: String
    private let metrics: AgentMetrics
    private var files: [String: OpenFile] = [:]
    /// Per source and path, a record with everything but the time and the body set: every line of a file shares its
    /// resource and attribute arrays instead of building them again (and the encoder groups them by identity).
    private var templates: [TemplateKey: LogRecord] = [:]

    private struct TemplateKey: Hashable {
        /// The index of the file source.
        var source: Int
        var path: String
    }
    /// The read buffer, kept from poll to poll (up to 4 MiB).
    private var chunk: [UInt8] = []
    /// Positions recovered at start-up and not yet claimed by an open file.
    private var known: [String: FilePosition]
    /// Positions of every file as far as the buffer holds them (what ``persistPositions()`` writes).
    /// Guarded: the sender thread persists it while the tailer thread advances it.
    private let committed: Mutex<[String: FilePosition]>
    private let positionsPath: String
    private var firstScan = true
    /// Records read in this poll, and the positions they advance.

    /// - Parameters:
    ///   - positions: the newest positions recovered from the positions file and the buffer's frames.
    package init(sources: [FileSourceConfig], positionsPath: String, positions: [String: FilePosition], hostName: String, metrics: AgentMetrics) throws {
        self.sources = sources
        self.positionsPath = positionsPath
        self.known = positions
        self.committed = Mutex(positions)
        self.hostName = hostName
        self.metrics = metrics
        multiline = try sources.map { source in
            guard let pattern = source.multilineStart else { return nil }
            do {
                return try NSRegularExpression(pattern: pattern)
            } catch {
                throw SightlineError(.configuration, "invalid multiline start pattern \"\(pattern)\": \(error)")
            }
        }
    }

    /// Loads the positions file (none yet: empty).
    package static func loadPositions(_ path: String) throws -> [String: FilePosition] {
        guard access(path, F_OK) == 0 else { return [:] }
        let bytes = try POSIXFile.readAll(path)
        return try bytes.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            let count = try reader.readCount()
            var positions: [String: FilePosition] = [:]
            for _ in 0..<count {
                let position = try FilePosition(reading: &reader)
                positions[position.key] = position
            }
            return positions
        }
    }

    /// Writes the committed positions atomically.
    package func persistPositions() throws {
        let committed = self.committed.withLock { $0 }
        var writer = ByteWriter(capacity: 64 + committed.count * 96)
        writer.writeVarint(UInt64(committed.count))
        for position in committed.values { position.write(to: &writer) }
        try POSIXFile.writeAtomically(writer.bytes, to: positionsPath)
    }

    /// Records that `positions` are durable in the buffer.
    package func commit(_ positions: [FilePosition]) {
        committed.withLock { committed in
            for position in positions { committed[position.key] = position }
        }
    }

    /// Finds files, reads what is new (up to `maxBytes` in total), and returns the records and the positions after
    /// them. Positions are advanced in memory only; call ``commit(_:)`` once the batch is buffered, or ``rewind(_:)``.
    package func poll(maxBytes: Int) -> (records: [LogRecord], positions: [FilePosition]) {
        discover()
        var budget = maxBytes
        var touched: [String: FilePosition] = [:]
        var records: [LogRecord] = []
        for key in files.keys.sorted() {
            guard budget > 0, var file = files[key] else { continue }
            let before = file.offset
            read(&file, budget: &budget, into: &records)
            if file.offset != before || file.fingerprint != committed.withLock({ $0[key]?.fingerprint }) {
                touched[key] = FilePosition(key: key, offset: file.offset, fingerprint: file.fingerprint)
            }
            files[key] = file
        }
        // Files that left the globs are closed once they stop growing (a renamed file is read to its end).
        for (key, file) in files where file.goneFor > 3 {
            POSIXFile.close(file.fd)
            files[key] = nil
        }
        return (records, Array(touched.values))
    }

    /// Undoes the read positions of a batch that could not be buffered, so the lines are read again.
    package func rewind(_ positions: [FilePosition]) {
        for position in positions {
            guard var file = files[position.key] else { continue }
            file.offset = committed.withLock { $0[position.key]?.offset ?? 0 }
            files[position.key] = file
        }
    }

    /// Opens files matching the globs that are not open yet.
    private func discover() {
        var seen = Set<String>()
        for (index, source) in sources.enumerated() {
            for path in Self.glob(source.paths) {
                var info = stat()
                guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
                let key = "\(info.st_dev):\(info.st_ino)"
                seen.insert(key)
                if var file = files[key] {
                    file.path = path
                    file.goneFor = 0
                    files[key] = file
                    continue
                }
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { continue }
                let fingerprint = Self.fingerprint(fd)
                var offset: Int64 = 0
                if let position = known[key], Self.samePrefix(position.fingerprint, fingerprint) {
                    offset = position.offset
                } else if let copied = files.values.first(where: {
                    $0.fingerprint.count == Self.fingerprintBytes && $0.fingerprint == fingerprint
                }) {
                    // A copy of a followed file (copytruncate): what was read of the original need not be read again.
                    offset = min(copied.offset, Int64(info.st_size))
                } else if !firstScan || source.startAtBeginning {
                    offset = 0
                } else {
                    offset = Int64(info.st_size)
                }
                known[key] = nil
                files[key] = OpenFile(path: path, fd: fd, key: key, source: index, offset: offset, fingerprint: fingerprint)
                metrics.add("sightline_agent_files_opened_total", 1)
            }
        }
        firstScan = false
        for key in files.keys where !seen.contains(key) { files[key]?.goneFor += 1 }
        metrics.set("sightline_agent_files_open", Double(files.count))
    }

    /// Whether two fingerprints agree on the bytes both have.
    private static func samePrefix(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let n = min(a.count, b.count)
        return a.prefix(n) == b.prefix(n)
    }

    private static func fingerprint(_ fd: Int32) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: fingerprintBytes)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, fingerprintBytes, 0) }
        return Array(bytes.prefix(max(0, got)))
    }

    /// Reads complete records from `file` at its offset.
    private func read(_ file: inout OpenFile, budget: inout Int, into records: inout [LogRecord]) {
        var info = stat()
        guard fstat(file.fd, &info) == 0 else { return }
        let size = Int64(info.st_size)
        // Truncated in place (copytruncate): the size fell below the position, or (when the writer already wrote
        // past the old position again) the first bytes changed. Either way: start over.
        if size < file.offset || (file.offset > 0 && file.fingerprint.count == Self.fingerprintBytes && Self.fingerprint(file.fd) != file.fingerprint) {
            file.offset = 0
            metrics.add("sightline_agent_truncations_total", 1)
        }
        if file.fingerprint.count < Self.fingerprintBytes || file.offset == 0 {
            file.fingerprint = Self.fingerprint(file.fd)
        }
        guard size > file.offset else { return }
        let source = sources[file.source]
        let want = Int(min(size - file.offset, Int64(min(budget, 4 << 20))))
        if chunk.count < want { chunk = [UInt8](repeating: 0, count: want) }
        let got = chunk.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, want, off_t(file.offset)) }
        guard got > 0 else { return }
        let pattern = multiline[file.source]
        let now = UInt64(Date().timeIntervalSince1970 * 1_000_000_000)
        let template = template(source: source, index: file.source, path: file.path)
        var lineStart = 0
        var consumed = 0
        var record: [UInt8] = []
        var recordStarted = false
        var lines = 0
        chunk.withUnsafeBufferPointer { whole in
            guard let base = whole.baseAddress else { return }
            let bytes = UnsafeBufferPointer(start: base, count: got)
            /// Ends the multiline record being built; everything before `end` is consumed.
            func emit(upTo end: Int) {
                if recordStarted {
                    record.withUnsafeBufferPointer { append(makeRecord($0, source: source, template: template, now: now), to: &records) }
                    record.removeAll(keepingCapacity: true)
                    recordStarted = false
                }
                consumed = end
            }
            while lineStart < got, let found = memchr(base + lineStart, 0x0A, got - lineStart) {
                let newline = UnsafeRawPointer(found).assumingMemoryBound(to: UInt8.self) - base
                let lineEnd = newline > lineStart && bytes[newline - 1] == 0x0D ? newline - 1 : newline
                let line = UnsafeBufferPointer(rebasing: bytes[lineStart..<lineEnd])
                let thisLine = lineStart
                lines += 1
                lineStart = newline + 1
                guard let pattern else {
                    append(makeRecord(line, source: source, template: template, now: now), to: &records)
                    consumed = lineStart
                    continue
                }
                let text = String(decoding: line, as: UTF8.self)
                let starts = pattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
                if starts || !recordStarted {
                    emit(upTo: thisLine)
                    record.append(contentsOf: line)
                    recordStarted = true
                } else if record.count <= source.maxRecordBytes {
                    record.append(0x0A)
                    record.append(contentsOf: line)
                }
            }
            // A multiline record is complete once its file has nothing more after it (the writer finished the trace).
            if pattern != nil && lineStart == got && Int64(got) == size - file.offset { emit(upTo: lineStart) }
            // A line longer than the limit with no newline yet is cut, so one runaway line cannot stall the file.
            if consumed == 0 && lineStart == 0 && got >= source.maxRecordBytes {
                let cut = UnsafeBufferPointer(rebasing: bytes[..<source.maxRecordBytes])
                append(makeRecord(cut, source: source, template: template, now: now), to: &records)
                consumed = source.maxRecordBytes
            }
        }
        metrics.add("sightline_agent_lines_read_total", Double(lines))
        metrics.add("sightline_agent_bytes_read_total", Double(consumed))
        file.offset += Int64(consumed)
        budget -= consumed
    }

    private func append(_ record: LogRecord?, to records: inout [LogRecord]) {
        if let record { records.append(record) }
    }

    /// A log record of `bytes`: invalid UTF-8 replaced (and counted), cut to the limit, then transformed.
    private func makeRecord(_ bytes: UnsafeBufferPointer<UInt8>, source: FileSourceConfig, template: LogRecord, now: UInt64) -> LogRecord? {
        var bytes = bytes
        if bytes.count > source.maxRecordBytes {
            bytes = UnsafeBufferPointer(rebasing: bytes[..<source.maxRecordBytes])
            metrics.add("sightline_agent_records_truncated_total", 1)
        }
        let text: String
        if let valid = UTF8Text.string(validating: bytes) {
            text = valid
        } else {
            text = String(decoding: bytes, as: UTF8.self)
            metrics.add("sightline_agent_invalid_utf8_total", 1)
        }
        var record = template
        record.timeUnixNano = now
        record.observedTimeUnixNano = now
        record.body = .string(text)
        guard !source.transforms.isEmpty else { return record }
        guard let transformed = Transform.apply(source.transforms, to: record) else {
            metrics.add("sightline_agent_records_dropped_total{reason=\"transform\"}", 1)
            return nil
        }
        return transformed
    }

    /// The record every line of `path` starts from: the source's resource (with `host.name`) and `log.file.path`.
    private func template(source: FileSourceConfig, index: Int, path: String) -> LogRecord {
        let key = TemplateKey(source: index, path: path)
        if let known = templates[key] { return known }
        var resource = source.resource.sorted { $0.key < $1.key }.map { Attribute($0.key, .string($0.value)) }
        if !source.resource.keys.contains("host.name") { resource.append(Attribute("host.name", .string(hostName))) }
        let made = LogRecord(timeUnixNano: 0, body: .empty, attributes: [Attribute("log.file.path", .string(path))], resource: resource)
        // Files come and go (rotation): keep the map from growing without bound.
        if templates.count >= 1024 { templates.removeAll(keepingCapacity: true) }
        templates[key] = made
        return made
    }

    /// Paths matching any of `patterns`, sorted.
    package static func glob(_ patterns: [String]) -> [String] { FileGlob.paths(patterns).sorted() }

    /// Closes every file.
    package func close() {
        for file in files.values { POSIXFile.close(file.fd) }
        files.removeAll()
    }
}
