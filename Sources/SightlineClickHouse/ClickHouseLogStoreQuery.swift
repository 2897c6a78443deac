package import SightlineCore

/// The read side: every query first resolves the tenant's streams matching the selector in the range (one grouped
/// query), then reads those streams' rows by primary key, in pages ordered by time.
extension ClickHouseLogStore {
    /// One stream a query selects, with what it holds in the query's range.
    struct ResolvedStream {
        var id: UInt64
        var labels: Labels
        var entries: Int
        var bytes: Int
        /// The day partitions its records of the range are in: what ``stats(tenant:matchers:range:)`` reports as chunks.
        var days: Int
    }

    /// The streams of `tenant` with records in `range` whose labels satisfy every matcher, with their counts when
    /// `counting` (which reads the lines' lengths too).
    ///
    /// The matchers are pushed into the query's `HAVING`, checked once per stream; each is written so that it can
    /// only keep too much, never too little (``sqlCondition(_:)``), and all are checked again here with
    /// ``LabelMatcher`` itself, so the answer is exactly the embedded store's.
    func resolveStreams(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange, counting: Bool) throws -> [ResolvedStream] {
        guard range.startNano < range.endNano else { return [] }
        let sql = Self.streamsSQL(tenant: tenant, matchers: matchers, range: range, counting: counting)
        let client = self.client
        return try Self.streams(try ClickHouseClient.blocking { try await client.query(sql) }, matchers: matchers, counting: counting)
    }

    /// The query of ``resolveStreams(tenant:matchers:range:counting:)``.
    static func streamsSQL(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange, counting: Bool) -> String {
        let having = matchers.compactMap(Self.sqlCondition)
        return """
            SELECT stream_id, stream_names, stream_values\(counting ? ", count(), sum(length(line)), uniqExact(day)" : "")
            FROM \(Self.table) WHERE \(Self.rowCondition(tenant: tenant, range: range))
            GROUP BY stream_id, stream_names, stream_values\(having.isEmpty ? "" : " HAVING " + having.joined(separator: " AND "))
            FORMAT RowBinary
            """
    }

    /// The streams of an answer to ``streamsSQL(tenant:matchers:range:counting:)`` that every matcher keeps.
    static func streams(_ bytes: [UInt8], matchers: [LabelMatcher], counting: Bool) throws -> [ResolvedStream] {
        let streams = try decodeRowBinary(bytes) { reader -> ResolvedStream in
            let id = try reader.readUInt64LE()
            let names = try reader.readStringArray()
            let values = try reader.readStringArray()
            guard names.count == values.count else {
                throw SightlineError(.dataCorrupted, "ClickHouse log stream \(id) has \(names.count) label names and \(values.count) values")
            }
            var stream = ResolvedStream(id: id, labels: Labels(zip(names, values).map { Label($0, $1) }), entries: 0, bytes: 0, days: 0)
            if counting {
                stream.entries = Int(try reader.readUInt64LE())
                stream.bytes = Int(try reader.readUInt64LE())
                stream.days = Int(try reader.readUInt64LE())
            }
            return stream
        }
        return streams.filter { stream in matchers.allSatisfy { $0.matches(stream.labels) } }
    }

    /// The `WHERE` of a tenant's rows in a time range: the tenant, the day partitions the range touches (so
    /// ClickHouse skips the others) and the exact nanosecond bounds.
    static func rowCondition(tenant: Tenant, range: TimeRange) -> String {
        var conditions = ["tenant = \(ClickHouseSQL.quote(tenant.id))"]
        if range.startNano > 0 { conditions.append("time_ns >= \(range.startNano)") }
        if range.endNano < .max { conditions.append("time_ns < \(range.endNano)") }
        let firstDay = range.startNano / nanosPerDay
        let lastDay = (range.endNano - 1) / nanosPerDay
        if firstDay > 0 && firstDay <= UInt64(UInt16.max) { conditions.append("day >= \(ClickHouseSQL.date(day: Int64(firstDay)))") }
        if lastDay < UInt64(UInt16.max) { conditions.append("day <= \(ClickHouseSQL.date(day: Int64(lastDay)))") }
        return conditions.joined(separator: " AND ")
    }

    /// A `HAVING` condition that keeps every stream the matcher keeps (and possibly a few more, which the caller's
    /// own check drops), or nil when the matcher is not pushed down.
    ///
    /// ClickHouse compares bytes and matches regexes with RE2; ``LabelMatcher`` compares Swift strings (canonical
    /// equivalence) and matches with Swift's Regex on grapheme clusters. They agree on printable-ASCII values and
    /// on patterns built from plain literals, `.`, classes, groups, alternation and repetition, so a value with any
    /// other byte (`match(v, '[^ -~]')`) is always kept for the Swift check, and patterns outside that subset are
    /// not pushed at all.
    static func sqlCondition(_ matcher: LabelMatcher) -> String? {
        let value = "stream_values[indexOf(stream_names, \(ClickHouseSQL.quote(matcher.name)))]"
        let unusual = "match(\(value), '[^ -~]')"
        switch matcher.kind {
        case .equal: return "(\(value) = \(ClickHouseSQL.quote(matcher.value)) OR \(unusual))"
        case .notEqual: return "(\(value) != \(ClickHouseSQL.quote(matcher.value)) OR \(unusual))"
        case .regexMatch, .regexNoMatch:
            guard isPortableRegex(matcher.value) else { return nil }
            let match = "match(\(value), \(ClickHouseSQL.quote("^(?:" + matcher.value + ")$")))"
            return matcher.kind == .regexMatch ? "(\(match) OR \(unusual))" : "(NOT \(match) OR \(unusual))"
        }
    }

    /// Whether RE2 and Swift's Regex read `pattern` the same way on printable-ASCII text: printable ASCII only, no
    /// inner anchors, no `(?` groups other than `(?:`, no class escapes such as `\d`, `\w`, `\s`, `\b` (their
    /// definitions differ), no POSIX classes, only punctuation escaped.
    static func isPortableRegex(_ pattern: String) -> Bool {
        let bytes = Array(pattern.utf8)
        // Swift's class set operations and possessive quantifiers, which RE2 reads otherwise or refuses.
        for special in ["&&", "--", "~~", "*+", "++", "?+", "}+"] where pattern.contains(special) { return false }
        var inClass = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte >= 0x20 && byte <= 0x7E else { return false }
            if inClass {
                // Inside `[…]`: no nested classes; `]` right after `[` or `[^` is a literal.
                if byte == UInt8(ascii: "[") { return false }
                if byte == UInt8(ascii: "]"), bytes[index - 1] != UInt8(ascii: "["), !(bytes[index - 1] == UInt8(ascii: "^") && bytes[index - 2] == UInt8(ascii: "[")) {
                    inClass = false
                }
            }
            switch byte {
            case UInt8(ascii: "^"), UInt8(ascii: "$"):
                // `[^…]` negates a class; elsewhere an anchor.
                guard byte == UInt8(ascii: "^"), index > 0, bytes[index - 1] == UInt8(ascii: "[") else { return false }
            case UInt8(ascii: "\\"):
                guard index + 1 < bytes.count else { return false }
                let next = bytes[index + 1]
                let punctuation = (next >= 0x21 && next <= 0x2F) || (next >= 0x3A && next <= 0x40) || (next >= 0x5B && next <= 0x60)
                    || (next >= 0x7B && next <= 0x7E)
                guard punctuation else { return false }
                index += 1
            case UInt8(ascii: "("):
                if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "?") {
                    guard index + 2 < bytes.count, bytes[index + 2] == UInt8(ascii: ":") else { return false }
                }
            case UInt8(ascii: "["):
                if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: ":") { return false }
                if index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "^"), bytes[index + 2] == UInt8(ascii: ":") { return false }
                inClass = true
            default: break
            }
            index += 1
        }
        return true
    }

    // MARK: LogSource

    package func streams(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> [Labels] {
        try resolveStreams(tenant: tenant, matchers: matchers, range: range, counting: false).map(\.labels).sorted()
    }

    /// Reads the selected streams' rows in the scan's direction, a page at a time: each page is the next rows by
    /// time (`ORDER BY time_ns LIMIT n`), pages grow from the first size to 64 times it, and the scan stops as soon
    /// as `visit` returns false. Rows whose time is the page's last time go to the next page, so a page boundary
    /// never splits or repeats rows; a page all of one time is completed by reading that time whole.
    package func scan(_ scan: LogScan, _ visit: (LogRecord) throws -> Bool) throws {
        let streams = try resolveStreams(tenant: scan.tenant, matchers: scan.matchers, range: scan.range, counting: false)
        guard !streams.isEmpty else { return }
        var labels: [UInt64: Labels] = [:]
        var collided = false
        for stream in streams {
            if let known = labels[stream.id], known != stream.labels { collided = true }
            labels[stream.id] = stream.labels
        }
        let ids = Set(streams.map(\.id))
        // An IN list of a few thousand ids keeps the statement far below ClickHouse's max_query_size (256 KiB).
        let restricted = !scan.matchers.isEmpty && ids.count <= maxStreamsInList
        var conditions = ["1"]
        if restricted {
            conditions.append("stream_id IN (\(ids.sorted().map(String.init).joined(separator: ", ")))")
        }
        for needle in scan.lineContains where !needle.isEmpty {
            conditions.append("position(line, \(ClickHouseSQL.quote(needle))) > 0")
        }
        let filter = conditions.joined(separator: " AND ")
        // Rows not restricted to the resolved ids (no matchers, or too many streams for one IN list), and rows of
        // streams sharing an id, carry their own labels; with matchers, each such row is checked here.
        let withArrays = collided || !restricted
        let checkRows = withArrays && !scan.matchers.isEmpty
        let columns = ClickHouseLogRow.selectColumns + (withArrays ? ", stream_names, stream_values" : "")
        let forward = scan.direction == .forward
        let client = self.client

        /// The rows of `range` (oldest or newest first), at most `limit` when given.
        func page(_ range: TimeRange, limit: Int?) throws -> [LogRecord] {
            let sql = """
                SELECT \(columns) FROM \(Self.table)
                WHERE \(Self.rowCondition(tenant: scan.tenant, range: range)) AND \(filter)
                ORDER BY time_ns\(forward ? "" : " DESC")\(limit.map { " LIMIT \($0)" } ?? "") FORMAT RowBinary
                """
            let bytes = try ClickHouseClient.blocking { try await client.query(sql) }
            return try decodeRowBinary(bytes) { reader in try ClickHouseLogRow.decode(&reader, withArrays: withArrays, labels: labels) }
        }

        // The records of the current time already handed. A record stored twice — a replayed WAL segment, or a queued
        // batch stored by a server that died before acknowledging it and again by the one it went to next — is handed
        // once, as Loki keeps one of identical entries (same stream, time and content). Rows come in time order and a
        // page never splits one time's rows, so comparing within one time is enough.
        var runTime: UInt64?
        var handedAtRunTime: Set<LogRecord> = []

        /// Hands `records` to `visit`; false when it asked to stop.
        func hand(_ records: some Sequence<LogRecord>) throws -> Bool {
            for record in records where !checkRows || scan.matchers.allSatisfy({ $0.matches(record.stream) }) {
                let time = record.effectiveTimeUnixNano
                if time != runTime {
                    runTime = time
                    handedAtRunTime.removeAll(keepingCapacity: true)
                }
                guard handedAtRunTime.insert(record).inserted else { continue }
                guard try visit(record) else { return false }
            }
            return true
        }

        var remaining = scan.range
        var pageRows = firstPageRows
        while remaining.startNano < remaining.endNano {
            let rows = try page(remaining, limit: pageRows)
            guard rows.count == pageRows, let boundary = rows.last?.effectiveTimeUnixNano else {
                _ = try hand(rows)
                return
            }
            let before = rows.prefix { $0.effectiveTimeUnixNano != boundary }
            if before.isEmpty {
                // A whole page of one time: read that time without a limit.
                guard try hand(try page(TimeRange(startNano: boundary, endNano: boundary &+ 1), limit: nil)) else { return }
                if forward {
                    guard boundary < .max else { return }
                    remaining.startNano = boundary + 1
                } else {
                    remaining.endNano = boundary
                }
            } else {
                guard try hand(before) else { return }
                // The rows of the boundary time come again, whole, at the start of the next page.
                if forward { remaining.startNano = boundary } else { remaining.endNano = boundary + 1 }
            }
            pageRows = min(pageRows * 2, maxPageRows)
        }
    }

    /// Counts per bucket in one grouped query, so no row leaves ClickHouse. Identical rows (same stream, times,
    /// severity, line and record; the texts compared by a 64-bit hash) count once, as ``scan(_:_:)`` hands them once.
    /// Nil — scan instead — when stream ids collide or too many streams match for one `IN` list, or the bucket
    /// arithmetic could overflow; and for any `groupBy` names: a record's structured metadata, which wins over its
    /// stream labels, is inside its encoded `record` blob, out of SQL's reach.
    package func countBuckets(_ scan: LogScan, originNano: Int64, widthNano: Int64, groupBy: [String]) throws -> [LogGroupCount]? {
        guard groupBy.isEmpty, widthNano > 0, widthNano < 1 << 52, abs(originNano) < 1 << 62 else { return nil }
        let streams = try resolveStreams(tenant: scan.tenant, matchers: scan.matchers, range: scan.range, counting: false)
        guard !streams.isEmpty else { return [] }
        var labels: [UInt64: Labels] = [:]
        for stream in streams {
            if let known = labels[stream.id], known != stream.labels { return nil }
            labels[stream.id] = stream.labels
        }
        var conditions = [Self.rowCondition(tenant: scan.tenant, range: scan.range)]
        if !scan.matchers.isEmpty {
            guard labels.count <= maxStreamsInList else { return nil }
            conditions.append("stream_id IN (\(labels.keys.sorted().map(String.init).joined(separator: ", ")))")
        }
        for needle in scan.lineContains where !needle.isEmpty {
            conditions.append("position(line, \(ClickHouseSQL.quote(needle))) > 0")
        }
        // Bucket j holds (origin + (j-1)·width, origin + j·width]: j = ⌈(time - origin) / width⌉.
        let sql = """
            SELECT toInt64(if(d > 0, intDiv(d + \(widthNano - 1), \(widthNano)), -intDiv(-d, \(widthNano)))) AS bucket, count(), sum(bytes)
            FROM (
                SELECT toInt64(time_ns) - \(originNano) AS d, any(length(line)) AS bytes FROM \(Self.table)
                WHERE \(conditions.joined(separator: " AND "))
                GROUP BY d, stream_id, timestamp_ns, observed_ns, severity_number, cityHash64(severity_text, line, record)
            )
            GROUP BY bucket ORDER BY bucket FORMAT RowBinary
            """
        let client = self.client
        let bytes = try ClickHouseClient.blocking { try await client.query(sql) }
        let buckets = try decodeRowBinary(bytes) { reader in
            let bucket = Int64(bitPattern: try reader.readUInt64LE())
            return LogBucketCount(
                endNano: originNano &+ bucket &* widthNano, records: Int(try reader.readUInt64LE()), bytes: Int(try reader.readUInt64LE()))
        }
        return buckets.isEmpty ? [] : [LogGroupCount(values: [], buckets: buckets)]
    }

    /// Counts per stream in one grouped query: entries, bytes of the lines, and as chunks the day partitions each
    /// stream's records are in (the embedded store counts its blocks; ClickHouse has no such unit per stream).
    package func stats(tenant: Tenant, matchers: [LabelMatcher], range: TimeRange) throws -> LogStats {
        var stats = LogStats()
        for stream in try resolveStreams(tenant: tenant, matchers: matchers, range: range, counting: true) where stream.entries > 0 {
            stats.streams += 1
            stats.chunks += stream.days
            stats.entries += stream.entries
            stats.bytes += stream.bytes
        }
        return stats
    }
}
