import SightlineCore

/// An intermediate value inside the evaluator: what one expression yields at one evaluation time.
enum EvalValue {
    case scalar(Double)
    case string(String)
    /// An instant vector; samples of a plain selector carry their own timestamp, all others the evaluation time.
    case vector([Sample])
    /// A range vector: the points of a window per series.
    case matrix([RangeSeries])
}

/// One series of a range vector inside the evaluator, with Prometheus 3's delayed name-removal flag.
struct RangeSeries {
    var metric: Labels
    /// A slice of the selected series' points for a selector, so that a window is not copied.
    var points: ArraySlice<FloatPoint>
    var dropName: Bool
}
