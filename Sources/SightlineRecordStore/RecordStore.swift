import Foundation
package import SightlineCore
import SightlineStorageCore
import Synchronization

/// The interim store of one signal: every batch kept in memory for queries and appended to one file for durability.
///
/// It stands in for the real engines (the time-series engine, the log and trace stores) until they land, behind the same
/// protocols: ``SignalStore`` on the write side and ``LogQuerier``, ``SpanQuerier`` or ``MetricQuerier`` on the read side.
/// It keeps everything in memory, so it suits development and tests, not large volumes.
///
/// On disk, in its directory:
/// - `batches.dat`: frames of `[length: UInt32 LE][crc32c: UInt32 LE][TenantBatch binary]`.
/// - `checkpoint`: the highest persisted WAL segment and the valid length of `batches.dat`, replaced atomically.
///   Bytes past that length (a crash between writing batches and the checkpoint) are cut off on open, so a
///   batch is never both in the file and replayed from the WAL.
package final class RecordStore: SignalStore, LogQuerier, LogSource, SpanQuerier, MetricQuerier {
    package let signal: Signal
    private let directory: String
    private let state: Mutex<State>
    /// Serializes ``persist(throughSegment:)`` calls; file I/O happens outside `state`'s lock.
    private let fileLock = Mutex(())

    private struct State {
        var tenants: [Tenant: TenantData] = [:]
        var pending: [(segment: Int, batch: TenantBatch)] = []
        var persistedSegment: Int = -1
        var fileLength: Int64 = 0
    }

    private struct TenantData {
        var logs: [LogRecord] = []
        var spans: [Span] = []
        var samples: [MetricSample] = []
        var metadata: [String: MetricMetadata] = [:]

        mutating func add(_ batch: SignalBatch) {
            switch batch {
            case .logs(let records): logs.append(contentsOf: records)
            case .traces(let newSpans): spans.append(contentsOf: newSpans)
            case .metrics(let metrics):
                samples.append(contentsOf: metrics.samples)
                for meta in metrics.metadata { metadata[meta.metricFamily] = meta }
            }
        }
    }

    /// Opens the store in `directory`, creating it, and loads what earlier runs persisted.
    /// - Throws: `dataCorrupted` when a persisted frame fails its CRC, `io` when files cannot be read.
    package init(signal: Signal, directory: String) throws {
        self.signal = signal
        self.directory = directory
        try POSIXFile.createDirectory(directory)
        var state = State()
        if let checkpoint = try Self.readCheckpoint(path: directory + "/" + Self.checkpointFile) {
            state.persistedSegment = checkpoint.segment
            state.fileLength = checkpoint.length
        }
        let dataPath = directory + "/" + Self.dataFile
        if FileManager.default.fileExists(atPath: dataPath) {
            let bytes = try POSIXFile.readAll(dataPath)
            guard bytes.count >= state.fileLength else {
                throw SightlineError(.dataCorrupted, "\(dataPath) has \(bytes.count) bytes, fewer than the \(state.fileLength) its checkpoint names")
            }
            // Bytes past the checkpoint are batches whose checkpoint never landed; the WAL replays them.
            try Self.decodeFrames(Array(bytes.prefix(Int(state.fileLength))), path: dataPath) { batch in
                state.tenants[batch.tenant, default: TenantData()].add(batch.batch)
            }
        }
        self.state = Mutex(state)
    }

    // MARK: SignalStore

    package func apply(_ batch: TenantBatch, at position: WALPosition) throws {
        guard batch.batch.signal == signal else {
            throw SightlineError(.internal, "\(batch.batch.signal) batch sent to the \(signal) store")
        }
        state.withLock { state in
            state.tenants[batch.tenant, default: TenantData()].add(batch.batch)
            state.pending.append((position.segment, batch))
        }
    }

    package func persist(throughSegment segment: Int) throws {
        try fileLock.withLock { _ in
            let (batches, offset) = state.withLock { state -> ([TenantBatch], Int64) in
                let taken = state.pending.filter { $0.segment <= segment }.map(\.batch)
                return (taken, state.fileLength)
            }
            var bytes: [UInt8] = []
            for batch in batches { Self.appendFrame(batch.encoded(), to: &bytes) }
            let dataPath = directory + "/" + Self.dataFile
            try FileIO.write(bytes, to: dataPath, at: offset)
            let newLength = offset + Int64(bytes.count)
            try POSIXFile.writeAtomically(Array("\(segment) \(newLength)\n".utf8), to: directory + "/" + Self.checkpointFile)
            state.withLock { state in
                state.pending.removeAll { $0.segment <= segment }
                state.persistedSegment = max(state.persistedSegment, segment)
                state.fileLength = newLength
            }
        }
    }

    package var persistedSegment: Int { state.withLock { $0.persistedSegment } }

    // MARK: Queries

    package func logs(tenant: Tenant, in range: TimeRange, limit: Int) throws -> [LogRecord] {
        let records = state.withLock { $0.tenants[tenant]?.logs ?? [] }
        return Self.newest(records.filter { range.contains($0.effectiveTimeUnixNano) }, limit: limit) { $0.effectiveTimeUnixNano }
    }

    package func streams(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> [Labels] {
        let records = state.withLock { $0.tenants[tenant]?.logs ?? [] }
        var streams = Set<Labels>()
        for record in records where range.contains(record.effectiveTimeUnixNano) {
            let labels = record.streamLabels
            if matchers.allSatisfy({ $0.matches(labels) }) { streams.insert(labels) }
        }
        return streams.sorted()
    }

    package func scan(_ scan: LogScan, _ visit: (LogRecord) throws -> Bool) throws {
        let records = state.withLock { $0.tenants[scan.tenant]?.logs ?? [] }
        var selected: [LogRecord] = []
        for var record in records where scan.range.contains(record.effectiveTimeUnixNano) {
            let labels = record.streamLabels
            guard scan.matchers.allSatisfy({ $0.matches(labels) }) else { continue }
            let line = record.line
            guard scan.lineContains.allSatisfy({ line.contains($0) }) else { continue }
            record.stream = labels
            selected.append(record)
        }
        selected.sort { scan.direction == .forward ? $0.effectiveTimeUnixNano < $1.effectiveTimeUnixNano : $0.effectiveTimeUnixNano > $1.effectiveTimeUnixNano }
        for record in selected {
            guard try visit(record) else { return }
        }
    }

    package func stats(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> LogStats {
        var stats = LogStats()
        var streams = Set<Labels>()
        try scan(LogScan(tenant: tenant, matchers: matchers, range: range, direction: .forward)) { record in
            streams.insert(record.stream)
            stats.entries += 1
            stats.bytes += record.line.utf8.count
            return true
        }
        stats.streams = streams.count
        stats.chunks = streams.count
        return stats
    }

    package func spans(tenant: Tenant, in range: TimeRange, limit: Int) throws -> [Span] {
        let spans = state.withLock { $0.tenants[tenant]?.spans ?? [] }
        return Self.newest(spans.filter { range.contains($0.startTimeUnixNano) }, limit: limit) { $0.startTimeUnixNano }
    }

    package func trace(tenant: Tenant, id: TraceID) throws -> [Span] {
        let spans = state.withLock { $0.tenants[tenant]?.spans ?? [] }
        return spans.filter { $0.traceID == id }.sorted { $0.startTimeUnixNano < $1.startTimeUnixNano }
    }

    package func select(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [SeriesSamples] {
        let samples = state.withLock { $0.tenants[tenant]?.samples ?? [] }
        var series: [Labels: [(Int64, Double)]] = [:]
        for sample in samples where sample.timestampMs >= startMs && sample.timestampMs <= endMs {
            guard matchers.allSatisfy({ $0.matches(sample.labels) }) else { continue }
            series[sample.labels, default: []].append((sample.timestampMs, sample.value))
        }
        return series.map { labels, points in
            let sorted = points.sorted { $0.0 < $1.0 }
            return SeriesSamples(labels: labels, timestampsMs: sorted.map(\.0), values: sorted.map(\.1))
        }
        .sorted { $0.labels.description < $1.labels.description }
    }

    package func labelNames(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String] {
        let series = try select(tenant: tenant, matchers: matchers, startMs: startMs, endMs: endMs)
        return Set(series.flatMap { $0.labels.labels.map(\.name) }).sorted()
    }

    package func labelValues(tenant: Tenant, name: String, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String] {
        let series = try select(tenant: tenant, matchers: matchers, startMs: startMs, endMs: endMs)
        return Set(series.compactMap { $0.labels[name] }).sorted()
    }

    package func metadata(tenant: Tenant, metric: String?) throws -> [MetricMetadata] {
        let all = state.withLock { $0.tenants[tenant]?.metadata ?? [:] }
        return all.values.filter { metric == nil || $0.metricFamily == metric }.sorted { $0.metricFamily < $1.metricFamily }
    }

    /// The newest `limit` elements by `time`, newest first.
    private static func newest<T>(_ elements: [T], limit: Int, time: (T) -> UInt64) -> [T] {
        Array(elements.sorted { time($0) > time($1) }.prefix(max(0, limit)))
    }

    // MARK: Files

    static let dataFile = "batches.dat"
    static let checkpointFile = "checkpoint"

    private static func appendFrame(_ payload: [UInt8], to bytes: inout [UInt8]) {
        var header = ByteWriter(capacity: 8)
        header.writeUInt32LE(UInt32(payload.count))
        header.writeUInt32LE(payload.withUnsafeBytes { CRC32C.checksum($0) })
        bytes.append(contentsOf: header.bytes)
        bytes.append(contentsOf: payload)
    }

    private static func decodeFrames(_ bytes: [UInt8], path: String, _ body: (TenantBatch) throws -> Void) throws {
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                guard raw.count - offset >= 8 else { throw SightlineError(.dataCorrupted, "\(path): frame header cut at byte \(offset)") }
                let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                let crc = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
                guard raw.count - offset - 8 >= length else { throw SightlineError(.dataCorrupted, "\(path): frame at byte \(offset) is cut") }
                let payload = UnsafeRawBufferPointer(rebasing: raw[(offset + 8)..<(offset + 8 + length)])
                guard CRC32C.checksum(payload) == crc else { throw SightlineError(.dataCorrupted, "\(path): CRC mismatch in the frame at byte \(offset)") }
                try body(try TenantBatch(decoding: payload))
                offset += 8 + length
            }
        }
    }

    private static func readCheckpoint(path: String) throws -> (segment: Int, length: Int64)? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let parts = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard parts.count == 2, let segment = Int(parts[0]), let length = Int64(parts[1]) else {
            throw SightlineError(.dataCorrupted, "\(path) is not a checkpoint (expected \"<segment> <length>\")")
        }
        return (segment, length)
    }
}
