import SightlineQuery

/// One element of a `query` result inside a template, as Prometheus exposes it: `.Labels` and `.Value`.
struct TemplateSample: Sendable {
    var labels: [String: String]
    var value: Double
}

/// A value inside a Go template: the few Go types Prometheus' alert templates ever see.
indirect enum TemplateValue: GoBuiltinValue {
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

    init(literal: GoTemplateLiteral) {
        switch literal {
        case .string(let s): self = .string(s)
        case .int(let i): self = .int(i)
        case .float(let f): self = .float(f)
        case .bool(let b): self = .bool(b)
        case .null: self = .null
        }
    }

    /// `range` visits a query result's samples, a map's values by sorted key, and 0…n-1 for an int n.
    var rangeElements: [(key: TemplateValue, element: TemplateValue)]? {
        switch self {
        case .samples(let samples): samples.enumerated().map { (.int(Int64($0.offset)), .sample($0.element)) }
        case .stringMap(let map): map.keys.sorted().map { (.string($0), .string(map[$0] ?? "")) }
        case .int(let count): (0..<max(0, count)).map { (.int($0), .int($0)) }
        case .null: []
        default: nil
        }
    }

    /// Struct fields, map keys (a missing one is ""), and a sample's `.Labels` and `.Value`.
    func field(_ name: String) throws(GoTemplateFailure) -> TemplateValue {
        switch self {
        case .stringMap(let map):
            return .string(map[name] ?? "")
        case .record(let members, let typeName):
            guard let member = members[name] else { throw .argument("can't evaluate field \(name) in type \(typeName)") }
            return member
        case .sample(let sample):
            switch name {
            case "Labels": return .stringMap(sample.labels)
            case "Value": return .float(sample.value)
            default: throw .argument("can't evaluate field \(name) in type *template.sample")
            }
        case .null:
            throw .argument("nil pointer evaluating interface {}.\(name)")
        default:
            throw .argument("can't evaluate field \(name) in type \(goTypeName)")
        }
    }

    var basic: GoTemplateLiteral? {
        switch self {
        case .string(let s): .string(s)
        case .float(let f): .float(f)
        case .int(let i): .int(i)
        case .bool(let b): .bool(b)
        case .null: .null
        case .stringMap, .record, .samples, .sample: nil
        }
    }

    var length: Int? {
        switch self {
        case .string(let s): s.utf8.count
        case .stringMap(let m): m.count
        case .samples(let s): s.count
        default: nil
        }
    }

    /// A map by string key, a query result by position.
    func indexed(by key: TemplateValue) throws(GoTemplateFailure) -> TemplateValue {
        switch (self, key) {
        case (.stringMap(let m), .string(let k)): return .string(m[k] ?? "")
        case (.samples(let s), .int(let i)):
            guard i >= 0, i < s.count else { throw .returned("index out of range: \(i)") }
            return .sample(s[Int(i)])
        default: throw .returned("can't index item of type \(goTypeName)")
        }
    }

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
