import Foundation
import Logging
import SightlineCore
import SightlineLogStore

/// `logstore`: ingests the records of an NDJSON file written by the shared dataset generator `gen_logs.py`
/// (`timestamp`, `ts_ns`, `service`, `host`, `level`, `message`, `attrs`) into a fresh log store, as the server would:
/// batches applied in WAL order, a persist every `persist-every` records, then one maintenance round (merges).
/// Reports records/s of apply + persist, bytes on disk per record, a rare-term search (blocks read and skipped) and
/// the rate of a full scan.
///
/// Mapping, as OTLP ingestion does it: `service` and `host` become the resource attributes `service.name` and
/// `host.name` (so the stream labels), `level` the severity, `message` the body, `attrs.trace_id` and `attrs.span_id`
/// the record's ids, the other attrs string attributes.
struct LogStoreBenchmark {
    var input: String
    var directory: String
    var records: Int
    var batch: Int
    var persistEvery: Int
    var needle: String

    init(arguments: [String]) throws {
        let options = try BenchmarkArguments(arguments, allowed: ["input", "dir", "records", "batch", "persist-every", "needle"])
        input = options.string("input", default: "")
        guard !input.isEmpty else { throw SightlineError(.invalidArgument, "--input <gen_logs.py ndjson file> is required") }
        directory = options.string("dir", default: NSTemporaryDirectory() + "/sightline-bench-logstore")
        records = try options.int("records", default: Int.max)
        batch = try options.int("batch", default: 1000)
        persistEvery = try options.int("persist-every", default: 100_000)
        needle = options.string("needle", default: "checksum mismatch")
    }

    /// Reads the NDJSON file into records.
    private func load() throws -> (records: [LogRecord], bytes: Int) {
        let data = try Data(contentsOf: URL(fileURLWithPath: input))
        var records: [LogRecord] = []
        var bytes = 0
        let levels: [String: Int32] = ["debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21]
        for line in data.split(separator: UInt8(ascii: "\n")) where records.count < self.records {
            bytes += line.count + 1
            guard let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                let time = (object["ts_ns"] as? NSNumber)?.uint64Value
            else { throw SightlineError(.invalidArgument, "\(input): line \(records.count + 1) is not a gen_logs.py record") }
            let level = object["level"] as? String ?? ""
            var record = LogRecord(
                timeUnixNano: time, observedTimeUnixNano: time, severityNumber: levels[level] ?? 0, severityText: level.uppercased(),
                body: .string(object["message"] as? String ?? ""),
                resource: [Attribute("service.name", .string(object["service"] as? String ?? "")), Attribute("host.name", .string(object["host"] as? String ?? ""))]
            )
            for (key, value) in (object["attrs"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
                let text = value as? String ?? "\(value)"
                if key == "trace_id", let id = TraceID(hex: text) {
                    record.traceID = id
                } else if key == "span_id", let id = SpanID(hex: text) {
                    record.spanID = id
                } else {
                    record.attributes.append(Attribute(key, .string(text)))
                }
            }
            records.append(record)
        }
        return (records, bytes)
    }

    func run() throws {
        let (records, inputBytes) = try load()
        try? FileManager.default.removeItem(atPath: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try LogStore(directory: directory, options: LogStoreOptions(), logger: Logger(label: "bench.logstore"))
        let lineBytes = records.reduce(0) { $0 + $1.body.text.utf8.count }
        printError("loaded \(records.count) records, \(inputBytes) NDJSON bytes, \(lineBytes) line bytes")

        // Batches as a decoder hands them over, made before the clock starts.
        let batches = stride(from: 0, to: records.count, by: batch).map { LogBatch(records[$0..<min(records.count, $0 + batch)]) }
        let start = monotonicSeconds()
        var segment = 0
        var sincePersist = 0
        var index = 0
        for logs in batches {
            let end = index + logs.count
            try store.apply(TenantBatch(tenant: .default, batch: .logs(logs)), at: WALPosition(segment: segment, offset: Int64(index)))
            sincePersist += end - index
            index = end
            if sincePersist >= persistEvery {
                try store.persist(throughSegment: segment)
                segment += 1
                sincePersist = 0
            }
        }
        try store.persist(throughSegment: segment)
        let ingestSeconds = monotonicSeconds() - start
        let beforeMerge = store.summary()
        let mergeStart = monotonicSeconds()
        let report = try store.maintain(now: LogStore.wallClockNano())
        let mergeSeconds = monotonicSeconds() - mergeStart
        let summary = store.summary()

        let searchStart = monotonicSeconds()
        var hits = 0
        try store.scan(LogScan(tenant: .default, matchers: [], range: .all, direction: .backward, lineContains: [needle])) { _ in
            hits += 1
            return true
        }
        let searchSeconds = monotonicSeconds() - searchStart
        let counters = store.blockCounters
        let fullStart = monotonicSeconds()
        var scanned = 0
        try store.scan(LogScan(tenant: .default, matchers: [], range: .all, direction: .forward)) { _ in
            scanned += 1
            return true
        }
        let fullSeconds = monotonicSeconds() - fullStart
        printError("full forward scan: \(scanned) records in \(format(fullSeconds, 2)) s, \(format(Double(scanned) / fullSeconds, 0)) records/s")
        printError(
            "parts \(beforeMerge.parts) -> \(summary.parts) (merged \(report.mergedParts) in \(format(mergeSeconds, 2)) s), blocks \(summary.blocks), "
                + "search \"\(needle)\": \(hits) hits, \(counters.read) blocks read, \(counters.skipped) skipped, \(format(searchSeconds * 1000, 1)) ms")
        print("| records | records/s (apply+persist) | bytes/record on disk | NDJSON bytes/record | line bytes/record | search ms | blocks read/total |")
        print("|---|---|---|---|---|---|---|")
        let count = Double(max(records.count, 1))
        print(
            "| \(records.count) | \(format(Double(records.count) / ingestSeconds, 0)) | \(format(Double(summary.partBytes) / count, 2)) | "
                + "\(format(Double(inputBytes) / count, 1)) | \(format(Double(lineBytes) / count, 1)) | \(format(searchSeconds * 1000, 1)) | "
                + "\(counters.read)/\(summary.blocks) |")
    }
}
