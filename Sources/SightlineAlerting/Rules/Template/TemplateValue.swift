import SightlineQuery

/// One element of a `query` result inside a template, as Prometheus exposes it: `.Labels` and `.Value`.
struct TemplateSample: Sendable {
    var labels: [String: String]
    var value: Double
}

/// A value inside a Go template: the few Go types Prometheus' alert templates ever see.
indirect enum TemplateValue {
    case string(String)
    case float(Double)
    case int(Int64)
    case bool(Bool)
    /// A Go `map[string]string` (`$labels`, `$externalLabels`); a missing key reads as "" (`missingkey=zero`).
    case stringMap([String: String])
    /// A Go struct: fields by name. `typeName` appears in error messages.
    case record([String: TemplateValue], typeName: String)
    /// A `query` result (`[]*sample`).
    case samples([TemplateSample])
    /// One element of a `query` result (`*sample`).
    case sample(TemplateSample)
    /// Go's nil (an untyped nil interface).
    case null

    /// The Go type name used in error messages.
    var goTypeName: String {
        switch self {
        case .string: "string"
        case .float: "float64"
        case .int: "int"
        case .bool: "bool"
        case .stringMap: "map[string]string"
        case .record(_, let typeName): typeName
        case .samples: "template.queryResult"
        case .sample: "*template.sample"
        case .null: "<nil>"
        }
    }

    /// Go's `text/template` truth: false, 0, nil and empty strings, maps and slices are false.
    var isTruthy: Bool {
        switch self {
        case .string(let s): !s.isEmpty
        case .float(let f): f != 0
        case .int(let i): i != 0
        case .bool(let b): b
        case .stringMap(let m): !m.isEmpty
        case .record: true
        case .samples(let s): !s.isEmpty
        case .sample: true
        case .null: false
        }
    }

    /// What `fmt.Sprint` prints for the value, which is what an action `{{ x }}` writes.
    var printed: String {
        switch self {
        case .string(let s): s
        case .float(let f): PromQLFloat.formatG(f)
        case .int(let i): String(i)
        case .bool(let b): b ? "true" : "false"
        case .stringMap(let m): "map[" + m.keys.sorted().map { "\($0):\(m[$0] ?? "")" }.joined(separator: " ") + "]"
        case .record(let fields, _): "{" + fields.keys.sorted().map { fields[$0]?.printed ?? "" }.joined(separator: " ") + "}"
        case .samples(let samples): "[" + samples.map { Self.sample($0).printed }.joined(separator: " ") + "]"
        case .sample(let s): "&{" + TemplateValue.stringMap(s.labels).printed + " " + PromQLFloat.formatG(s.value) + "}"
        case .null: "<no value>"
        }
    }
}
