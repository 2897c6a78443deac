package import SightlineCore

/// What a trace is known by in a search: its root span's service and name (the span without a parent in the trace;
/// the earliest of several), its first start and its extent.
package struct TraceSummary: Sendable {
    package var rootService = ""
    package var rootName = ""
    package var startNano: UInt64 = 0
    package var durationNano: UInt64 = 0

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
    }
}
