package import SightlineCore

/// What a trace is known by in a search: its root span's service and name (the span without a parent in the trace;
/// the earliest of several), its first start and its extent, and the nested set numbers of its spans.
package struct TraceSummary: Sendable {
    package var rootService = ""
    package var rootName = ""
    package var startNano: UInt64 = 0
    package var durationNano: UInt64 = 0
    /// Each span's nested set numbers, for the spans connected to a root (one without a parent span id).
    var nestedSets: [SpanID: NestedSet] = [:]

    /// A span's place in its trace's tree, numbered as Tempo numbers it.
    struct NestedSet {
        var left: Int64
        var right: Int64
        /// The parent's `left`; -1 for a root.
        var parent: Int64
    }

    package init(_ spans: [Span]) {
        let ids = Set(spans.map(\.spanID))
        let roots = spans.filter { span in span.parentSpanID.map { $0.isZero || !ids.contains($0) } ?? true }
        if let root = roots.min(by: { $0.startTimeUnixNano < $1.startTimeUnixNano }) {
            rootService = root.serviceName
            rootName = root.name
        }
        startNano = spans.map(\.startTimeUnixNano).min() ?? 0
        let end = spans.map(\.endTimeUnixNano).max() ?? 0
        durationNano = end > startNano ? end - startNano : 0
        nestedSets = Self.number(spans)
    }

    /// Numbers the spans depth first from each root, children in start order: `left` on entering a span, `right` on
    /// leaving it, one counter for the trace.
    private static func number(_ spans: [Span]) -> [SpanID: NestedSet] {
        var children: [SpanID: [Int]] = [:]
        var roots: [Int] = []
        for (position, span) in spans.enumerated() {
            if span.isRoot { roots.append(position) } else if let parent = span.parentSpanID { children[parent, default: []].append(position) }
        }
        let byStart = { (a: Int, b: Int) in (spans[a].startTimeUnixNano, a) < (spans[b].startTimeUnixNano, b) }
        var out: [SpanID: NestedSet] = [:]
        var counter: Int64 = 0
        // An explicit stack: (span, parent's left, next child to visit); a span id met twice (a loop, a duplicate) is
        // numbered once.
        for root in roots.sorted(by: byStart) where out[spans[root].spanID] == nil {
            counter += 1
            out[spans[root].spanID] = NestedSet(left: counter, right: 0, parent: -1)
            var stack: [(span: Int, next: Int, kids: [Int])] = [(root, 0, (children[spans[root].spanID] ?? []).sorted(by: byStart))]
            while let top = stack.last {
                if top.next < top.kids.count {
                    stack[stack.count - 1].next += 1
                    let child = top.kids[top.next]
                    guard out[spans[child].spanID] == nil else { continue }
                    counter += 1
                    out[spans[child].spanID] = NestedSet(left: counter, right: 0, parent: out[spans[top.span].spanID]!.left)
                    stack.append((child, 0, (children[spans[child].spanID] ?? []).sorted(by: byStart)))
                } else {
                    counter += 1
                    out[spans[top.span].spanID]?.right = counter
                    stack.removeLast()
                }
            }
        }
        return out
    }
}
