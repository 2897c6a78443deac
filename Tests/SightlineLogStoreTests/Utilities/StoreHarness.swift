import Logging
@testable import SightlineLogStore
import SightlineCore
import SightlineTestSupport
import Synchronization

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let now: Atomic<UInt64>
    init(_ start: UInt64) { now = Atomic(start) }
    var nano: UInt64 { now.load(ordering: .relaxed) }
    func advance(_ nano: UInt64) { now.add(nano, ordering: .relaxed) }
    var function: @Sendable () -> UInt64 { { self.nano } }
}

/// A store in a temporary directory with small blocks, and helpers to feed and read it.
struct StoreHarness {
    static let tenant = Tenant.default
    let directory: TemporaryDirectory
    var options: LogStoreOptions
    let clock: TestClock

    init(options: LogStoreOptions = StoreHarness.smallBlocks) throws {
        directory = try TemporaryDirectory(prefix: "sightline-logstore")
        self.options = options
        clock = TestClock(LogFixtures.base)
    }

    static var smallBlocks: LogStoreOptions {
        var options = LogStoreOptions()
        options.blockMaxRecords = 100
        options.parallelism = 2
        return options
    }

    func open() throws -> LogStore {
        try LogStore(directory: directory.path, options: options, logger: Logger(label: "test.logstore"), clock: clock.function)
    }

    static func apply(_ store: LogStore, _ records: [LogRecord], segment: Int, tenant: Tenant = tenant) throws {
        try store.apply(TenantBatch(tenant: tenant, batch: .logs(records)), at: WALPosition(segment: segment, offset: 0))
    }

    /// Every record a scan hands out.
    static func scan(
        _ store: LogStore, matchers: [LabelMatcher] = [], range: TimeRange = .all, direction: LogScan.Direction = .forward,
        lineContains: [String] = [], tenant: Tenant = tenant
    ) throws -> [LogRecord] {
        var records: [LogRecord] = []
        try store.scan(LogScan(tenant: tenant, matchers: matchers, range: range, direction: direction, lineContains: lineContains)) { record in
            records.append(record)
            return true
        }
        return records
    }

    /// Records with the stream set to their stream labels, as scans hand them out.
    static func labeled(_ records: [LogRecord]) -> [LogRecord] {
        records.map { record in
            var copy = record
            copy.stream = record.streamLabels
            return copy
        }
    }
}

extension LogStore.HeadChunk {
    /// The chunk's records, each made as it is read.
    var records: Slice<LogBatch> { batch[rows] }

    /// A chunk of segment 0 holding all of `records`.
    init(_ records: some Sequence<LogRecord>) {
        let batch = LogBatch(records)
        self.init(segment: 0, batch: batch, rows: 0..<batch.count)
    }
}
