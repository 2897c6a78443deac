package import SightlineCore

/// One float sample of a series: a millisecond timestamp and a value.
///
/// Two points are equal when their timestamps are equal and their values have the same bit pattern, so a NaN equals
/// the same NaN (which `==` on `Double` never says) and `0` differs from `-0`. That is the equality tests and caches
/// want; the PromQL kernels never compare points, only values.
package struct FloatPoint: Sendable, Hashable {
    /// Milliseconds since the Unix epoch.
    package var t: Int64
    /// The sample value.
    package var v: Double

    /// A point at `t` (milliseconds) with value `v`.
    package init(t: Int64, v: Double) {
        self.t = t
        self.v = v
    }

    package static func == (lhs: FloatPoint, rhs: FloatPoint) -> Bool {
        lhs.t == rhs.t && lhs.v.bitPattern == rhs.v.bitPattern
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(t)
        hasher.combine(v.bitPattern)
    }
}

/// One element of an instant vector: a series identity, the evaluation timestamp and a value.
package struct Sample: Sendable {
    /// The labels of the element.
    package var metric: Labels
    /// Milliseconds since the Unix epoch.
    package var t: Int64
    /// The value.
    package var v: Double
    /// Whether the metric name must be dropped from `metric` when the result leaves the engine (Prometheus 3's delayed
    /// name removal: functions and arithmetic set it, `label_replace` onto `__name__` clears it).
    package var dropName: Bool

    /// An element with the given labels, timestamp (milliseconds) and value.
    package init(metric: Labels, t: Int64, v: Double, dropName: Bool = false) {
        self.metric = metric
        self.t = t
        self.v = v
        self.dropName = dropName
    }
}

/// An instant vector: at most one sample per series, all at the same evaluation time.
package typealias InstantVector = [Sample]

/// One series of a range vector (or one row of a matrix result): its labels and its points in ascending time.
package struct Series: Sendable {
    /// The labels of the series.
    package var metric: Labels
    /// The points, in ascending timestamp order.
    package var points: [FloatPoint]

    /// A series with the given labels and points.
    package init(metric: Labels, points: [FloatPoint]) {
        self.metric = metric
        self.points = points
    }
}
