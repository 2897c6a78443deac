package import SightlineCore

/// An instant vector selector: an optional metric name, label matchers, and its `offset`, `@` and extended-range
/// modifiers.
package struct VectorSelector: Sendable, Equatable {
    /// The metric name written before the braces, if any (`foo` in `foo{a="b"}`). A name given as
    /// `{__name__="foo"}` or `{"foo"}` is only a matcher.
    package var name: String?
    /// All matchers, including (last) a `__name__` equality matcher for ``name`` when it is set, as in Prometheus.
    package var matchers: [LabelMatcher]
    /// The offset in milliseconds; positive looks back in time, negative forward.
    package var offset: Int64
    /// The offset as a duration expression (`offset step()`), to be computed per query; nil when ``offset`` is final.
    package var offsetExpr: DurationExpr?
    /// The `@` modifier.
    package var at: AtModifier?
    /// The experimental `anchored` modifier.
    package var anchored: Bool
    /// The experimental `smoothed` modifier.
    package var smoothed: Bool

    /// Creates a selector; pass the name matcher in `matchers` too when `name` is set.
    package init(
        name: String? = nil, matchers: [LabelMatcher], offset: Int64 = 0, offsetExpr: DurationExpr? = nil, at: AtModifier? = nil,
        anchored: Bool = false, smoothed: Bool = false
    ) {
        self.name = name
        self.matchers = matchers
        self.offset = offset
        self.offsetExpr = offsetExpr
        self.at = at
        self.anchored = anchored
        self.smoothed = smoothed
    }

    /// Matchers compare as a set: `foo{a="1",b="2"}` equals `foo{b="2",a="1"}`.
    package static func == (a: VectorSelector, b: VectorSelector) -> Bool {
        func key(_ matcher: LabelMatcher) -> [String] { [matcher.name, matcher.kind.rawValue, matcher.value] }
        func sortedKeys(_ matchers: [LabelMatcher]) -> [[String]] {
            matchers.map(key).sorted { $0.lexicographicallyPrecedes($1) }
        }
        return a.name == b.name && a.offset == b.offset && a.offsetExpr == b.offsetExpr && a.at == b.at && a.anchored == b.anchored
            && a.smoothed == b.smoothed && sortedKeys(a.matchers) == sortedKeys(b.matchers)
    }
}

/// The `@` modifier: a fixed time, or the start or end of the query range.
package enum AtModifier: Sendable, Hashable {
    /// Milliseconds since the epoch (Prometheus rounds the seconds given to the millisecond).
    case timestamp(Int64)
    case start
    case end
}
