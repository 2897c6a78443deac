import SightlineCore
import SightlineQuery

/// A log source over records in memory, for LogQL tests. It honours matchers, the time range, the direction, early
/// stop and `lineContains` (so a wrong pushdown loses lines), and remembers every scan it was asked for.
final class MemoryLogSource: LogSource, @unchecked Sendable {
    private let records: [LogRecord]
    /// The scans run so far, in order.
    private(set) var scans: [LogScan] = []
    /// How many records were handed to visitors.
    private(set) var visited = 0

    init(_ records: [LogRecord]) {
        self.records = records.sorted { $0.timeUnixNano < $1.timeUnixNano }
    }

    /// A record of stream `labels` at `seconds` (plus `nanos`) with `line`.
    static func record(_ labels: KeyValuePairs<String, String>, _ seconds: Int64, _ line: String, nanos: Int64 = 0, metadata: [Attribute] = []) -> LogRecord {
        LogRecord(timeUnixNano: UInt64(seconds * 1_000_000_000 + nanos), body: .string(line), attributes: metadata, stream: Labels(labels))
    }

    func streams(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> [Labels] {
        var seen = Set<Labels>()
        for record in records where range.contains(record.timeUnixNano) && matchers.allSatisfy({ $0.matches(record.streamLabels) }) {
            seen.insert(record.streamLabels)
        }
        return seen.sorted()
    }

    func scan(_ scan: LogScan, _ visit: (LogRecord) throws -> Bool) throws {
        scans.append(scan)
        let ordered = scan.direction == .forward ? records : records.reversed()
        for record in ordered {
            guard scan.range.contains(record.timeUnixNano), scan.matchers.allSatisfy({ $0.matches(record.streamLabels) }) else { continue }
            guard scan.lineContains.allSatisfy({ record.line.contains($0) }) else { continue }
            visited += 1
            if try !visit(record) { return }
        }
    }

    func stats(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> LogStats {
        LogStats()
    }
}
