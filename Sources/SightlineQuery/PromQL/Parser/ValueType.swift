/// The type of a PromQL expression's value.
package enum ValueType: String, Sendable, Hashable, CustomStringConvertible {
    case scalar
    /// An instant vector.
    case vector
    /// A range vector.
    case matrix
    case string

    /// The name Prometheus uses in type errors: `scalar`, `instant vector`, `range vector`, `string`.
    package var documentedName: String {
        switch self {
        case .scalar: "scalar"
        case .vector: "instant vector"
        case .matrix: "range vector"
        case .string: "string"
        }
    }

    /// The short name (`vector`, `matrix`, …) Prometheus prints in a few messages.
    package var description: String { rawValue }
}
