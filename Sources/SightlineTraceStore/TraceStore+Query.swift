package import SightlineCore

/// The read side: single traces, searches, services, operations, dependencies.
extension TraceStore {
    /// Keys of tags derived from span fields (``Span/derivedTagText(_:)``): a block's tag filter does not hold them.
    private static let derivedTagKeys: Set<String> = [
        "span.kind", "error", "otel.status_code", "otel.status_description", "otel.scope.name", "otel.scope.version",
    ]

    package func trace(tenant: Tenant, id: TraceID) throws -> [Span] {
        let (parts, head) = traceSnapshot(tenant: tenant, id: id)
        var spans = head
        for part in parts { spans.append(contentsOf: try part.spans(of: id)) }
        // Stable by start time, so spans sent in one batch keep their order on ties.
        return spans.enumerated().sorted { ($0.element.startTimeUnixNano, $0.offset) < ($1.element.startTimeUnixNano, $1.offset) }.map(\.element)
    }

    package func spans(tenant: Tenant, in range: TimeRange, limit: Int) throws -> [Span] {
        guard limit > 0 else { return [] }
        let (parts, head) = snapshot(tenant: tenant)
        var selected: [Span] = []
        for batch in head where batch.tenant == tenant {
            for span in batch.spans where range.contains(span.startTimeUnixNano) { selected.append(span) }
        }
        keepNewest(&selected, limit: limit)
        for part in parts.sorted(by: { $0.index.maxStart > $1.index.maxStart }) {
            guard part.index.maxStart >= range.startNano, part.index.minStart < range.endNano else { continue }
            if selected.count >= limit, let oldest = selected.last, part.index.maxStart < oldest.startTimeUnixNano { break }
            for number in part.index.blocks.indices {
                let meta = part.index.blocks[number]
                guard meta.maxStart >= range.startNano, meta.minStart < range.endNano else { continue }
                if selected.count >= limit, let oldest = selected.last, meta.maxStart < oldest.startTimeUnixNano { continue }
                let data = try part.block(number)
                let traces = try data.traceIDs()
                let columns = try data.rowColumns()
                for row in traces.indices where range.contains(columns.filter.starts[row]) {
                    selected.append(try columns.span(row, traceID: traces[row]))
                }
                keepNewest(&selected, limit: limit)
            }
        }
        return selected
    }

    /// Sorts newest first and keeps `limit`.
    private func keepNewest(_ spans: inout [Span], limit: Int) {
        spans.sort { $0.startTimeUnixNano > $1.startTimeUnixNano }
        if spans.count > limit { spans.removeLast(spans.count - limit) }
    }

    package func findTraces(_ query: TraceQuery) throws -> [TraceID] {
        guard query.limit > 0 else { return [] }
        var newest: [TraceID: UInt64] = [:]
        // Parts come newest first: once `limit` traces are known and a part ends before the limit-th newest, nothing
        // there or later can enter the result.
        try scan(query, wantsSpans: false, stopBefore: { index in
            newest.count >= query.limit && index.maxStart < Self.threshold(newest, limit: query.limit)
        }) { id, start, _ in
            if let known = newest[id], known >= start { return }
            newest[id] = start
        }
        return newest.sorted { ($0.value, $0.key) > ($1.value, $1.key) }.prefix(query.limit).map(\.key)
    }

    package func forEachSpan(matching query: TraceQuery, _ visit: (Span) throws -> Void) throws {
        try scan(query, wantsSpans: true, stopBefore: { _ in false }) { _, _, span in
            if let span { try visit(span) }
        }
    }

    /// Calls `note` with the trace id, start and (when `wantsSpans`, or when the query needs the whole span to
    /// decide) the span of every span matching `query`: the head's first, then the parts' newest first, until
    /// `stopBefore` says a part and every older one can be skipped. Blocks are skipped by their metadata, rows by the
    /// cheap columns before any span is decoded.
    private func scan(
        _ query: TraceQuery, wantsSpans: Bool, stopBefore: (PartIndex) -> Bool, _ note: (TraceID, UInt64, Span?) throws -> Void
    ) throws {
        let (parts, head) = snapshot(tenant: query.tenant)
        for batch in head where batch.tenant == query.tenant {
            for span in batch.spans where query.matches(span) { try note(span.traceID, span.startTimeUnixNano, span) }
        }
        let tagHashes = query.tags.filter { !Self.derivedTagKeys.contains($0.key) }.map { TraceHash.tag(key: $0.key, text: $0.value) }
        for part in parts.sorted(by: { $0.index.maxStart > $1.index.maxStart }) {
            let index = part.index
            guard index.maxStart >= query.range.startNano, index.minStart < query.range.endNano else { continue }
            if stopBefore(index) { break }
            let operations = Self.candidateOperations(index, query)
            if let operations, !operations.contains(true) { continue }
            for number in index.blocks.indices {
                let meta = index.blocks[number]
                guard meta.maxStart >= query.range.startNano, meta.minStart < query.range.endNano else { continue }
                if let minimum = query.minDurationNano, meta.maxDuration < minimum { continue }
                if let maximum = query.maxDurationNano, meta.minDuration > maximum { continue }
                if let status = query.status, meta.statusMask & (1 << UInt8(status.rawValue)) == 0 { continue }
                if let operations, !meta.operations.contains(where: { operations[$0] }) { continue }
                if !tagHashes.allSatisfy({ meta.tagFilter.mayContain($0) }) { continue }
                try scan(part.block(number), query, operations: operations, wantsSpans: wantsSpans, note)
            }
        }
    }

    /// The start time of the `limit`-th newest trace found so far.
    private static func threshold(_ newest: [TraceID: UInt64], limit: Int) -> UInt64 {
        let times = newest.values.sorted(by: >)
        return times[min(limit, times.count) - 1]
    }

    /// Whether each operation of `index` (by number) satisfies the query's service, operation and kind; nil when it
    /// names none of them.
    private static func candidateOperations(_ index: PartIndex, _ query: TraceQuery) -> [Bool]? {
        guard query.service != nil || query.operation != nil || query.kind != nil else { return nil }
        return index.operations.map { operation in
            (query.service.map { index.services[operation.service] == $0 } ?? true) && (query.operation.map { operation.name == $0 } ?? true)
                && (query.kind.map { operation.kind == $0 } ?? true)
        }
    }

    /// Checks every span of one block against the query, cheap columns first.
    private func scan(
        _ data: BlockData, _ query: TraceQuery, operations: [Bool]?, wantsSpans: Bool, _ note: (TraceID, UInt64, Span?) throws -> Void
    ) throws {
        let filter = try data.filterColumns()
        var rows: [Int] = []
        for row in 0..<data.meta.spanCount {
            let start = filter.starts[row]
            guard query.range.contains(start) else { continue }
            if let operations, !operations[filter.operations[row]] { continue }
            if let status = query.status, filter.statuses[row] != status { continue }
            let end = filter.ends[row]
            let duration = end >= start ? end - start : 0
            if let minimum = query.minDurationNano, duration < minimum { continue }
            if let maximum = query.maxDurationNano, duration > maximum { continue }
            rows.append(row)
        }
        // The id column, decompressed once for whichever of the steps below needs it.
        var decodedIDs: IDColumns?
        func ids() throws -> IDColumns {
            if let decodedIDs { return decodedIDs }
            let made = try data.idColumns(filter)
            decodedIDs = made
            return made
        }
        if query.rootSpans && !rows.isEmpty {
            let ids = try ids()
            rows.removeAll { ids.parentID($0) != nil }
        }
        guard !rows.isEmpty else { return }
        let traces = try data.traceIDs()
        if !wantsSpans && query.tags.isEmpty && query.predicate == nil {
            for row in rows { try note(traces[row], filter.starts[row], nil) }
            return
        }
        if !query.spanDetails && query.tags.isEmpty {
            let ids = try ids()
            for row in rows {
                let span = ids.spanWithoutDetails(row, traceID: traces[row])
                if query.predicate.map({ $0(span) }) ?? true { try note(traces[row], filter.starts[row], span) }
            }
            return
        }
        let columns = try data.rowColumns(try ids())
        for row in rows {
            let span = try columns.span(row, traceID: traces[row])
            if query.tags.allSatisfy({ span.hasTag($0) }) && (query.predicate.map { $0(span) } ?? true) {
                try note(traces[row], filter.starts[row], span)
            }
        }
    }

    package func services(tenant: Tenant, range: TimeRange) throws -> [String] {
        var names = Set<String>()
        try visitOperations(tenant: tenant, range: range) { service, _ in names.insert(service) }
        return names.sorted()
    }

    package func operations(tenant: Tenant, service: String, kind: Span.Kind?, range: TimeRange) throws -> [TraceOperation] {
        var found = Set<TraceOperation>()
        try visitOperations(tenant: tenant, range: range) { name, operation in
            if name == service, kind == nil || kind == operation.kind { found.insert(operation) }
        }
        return found.sorted()
    }

    /// Calls `visit` with the service and operation of every head span in `range`, and of every block of a part
    /// whose time span overlaps `range` (block granularity: a block's operations count when any of its spans may).
    private func visitOperations(tenant: Tenant, range: TimeRange, _ visit: (String, TraceOperation) -> Void) throws {
        let (parts, head) = snapshot(tenant: tenant)
        for batch in head where batch.tenant == tenant {
            for span in batch.spans where range.contains(span.startTimeUnixNano) {
                visit(span.serviceName, TraceOperation(name: span.name, kind: span.kind))
            }
        }
        for part in parts {
            let index = part.index
            guard index.maxStart >= range.startNano, index.minStart < range.endNano else { continue }
            var seen = Set<Int>()
            for meta in index.blocks where meta.maxStart >= range.startNano && meta.minStart < range.endNano {
                seen.formUnion(meta.operations)
            }
            for number in seen {
                let operation = index.operations[number]
                visit(index.services[operation.service], TraceOperation(name: operation.name, kind: operation.kind))
            }
        }
    }

    package func dependencies(tenant: Tenant, range: TimeRange) throws -> [DependencyLink] {
        let (parts, head) = snapshot(tenant: tenant)
        var services: [SpanKey: String] = [:]
        var parents: [(key: SpanKey, service: String)] = []
        func add(trace: TraceID, span: SpanID, parent: SpanID?, service: String) {
            services[SpanKey(trace: trace, span: span)] = service
            if let parent { parents.append((SpanKey(trace: trace, span: parent), service)) }
        }
        for batch in head where batch.tenant == tenant {
            for span in batch.spans where range.contains(span.startTimeUnixNano) {
                add(trace: span.traceID, span: span.spanID, parent: span.parentSpanID, service: span.serviceName)
            }
        }
        for part in parts {
            let index = part.index
            guard index.maxStart >= range.startNano, index.minStart < range.endNano else { continue }
            for number in index.blocks.indices {
                let meta = index.blocks[number]
                guard meta.maxStart >= range.startNano, meta.minStart < range.endNano else { continue }
                let data = try part.block(number)
                let traces = try data.traceIDs()
                let columns = try data.rowColumns()
                for row in traces.indices where range.contains(columns.filter.starts[row]) {
                    let service = index.services[index.operations[columns.filter.operations[row]].service]
                    add(trace: traces[row], span: columns.spanID(row), parent: columns.parentID(row), service: service)
                }
            }
        }
        return DependencyLink.count(parents.compactMap { edge in services[edge.key].map { ($0, edge.service) } })
    }

    /// A span's identity: trace id and span id.
    private struct SpanKey: Hashable {
        var trace: TraceID
        var span: SpanID
    }
}
