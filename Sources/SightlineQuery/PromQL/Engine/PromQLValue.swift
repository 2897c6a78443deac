/// The value of a PromQL query, as Prometheus' API returns it in `data.resultType` and `data.result`.
package enum PromQLValue: Sendable {
    /// A scalar at time `t` (milliseconds).
    case scalar(t: Int64, v: Double)
    /// A string at time `t` (milliseconds).
    case string(t: Int64, v: String)
    /// An instant vector; every sample carries the evaluation time.
    case vector([Sample])
    /// A range vector or a range query result, series sorted by labels.
    case matrix([Series])
}
