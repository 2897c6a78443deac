/// A value a template walks over. Each template language has its own (labels and a line for LogQL, `$labels` and
/// query results for alert rules, Alertmanager's notification data); the executor asks it the few things Go's
/// `text/template` asks of a Go value.
package protocol GoTemplateValue {
    /// A constant written in the template.
    init(literal: GoTemplateLiteral)
    /// Go's truth, for `if`, `with`, `and`, `or` and `not`: false, 0, nil and empty strings, maps and lists are false.
    var isTruthy: Bool { get }
    /// What `fmt.Sprint` prints for the value: what an action `{{ x }}` writes.
    var printed: String { get }
    /// The pairs `range` visits (index or key, element), in order; nil when the value cannot be ranged over.
    var rangeElements: [(key: Self, element: Self)]? { get }
    /// `.name` on this value.
    /// - Throws: ``GoTemplateFailure`` with Go's message (`can't evaluate field X in type T`).
    func field(_ name: String) throws(GoTemplateFailure) -> Self
    /// The method `name` called with `arguments`; nil when the value has no such method.
    func method(_ name: String, arguments: [Self]) throws(GoTemplateFailure) -> Self?
}

extension GoTemplateValue {
    package func method(_ name: String, arguments: [Self]) throws(GoTemplateFailure) -> Self? { nil }
}

/// Why a field, method or function failed: Go wraps errors a function returns as `error calling NAME: …`, while
/// argument conversion errors stand alone.
package enum GoTemplateFailure: Error {
    /// An error the function returned.
    case returned(String)
    /// A wrong argument (type or count), or a field that does not exist.
    case argument(String)

    /// Go's complaint when function or method `name` gets `got` arguments where it wants `want`.
    package static func checkCount(_ name: String, want: Int, got: Int) throws(GoTemplateFailure) {
        guard got == want else { throw .argument("wrong number of args for \(name): want \(want) got \(got)") }
    }
}

/// The functions a template may call, by name.
package protocol GoTemplateFunctions {
    associatedtype Value: GoTemplateValue
    func call(_ name: String, _ arguments: [Value]) throws(GoTemplateFailure) -> Value
}

extension GoTemplate {
    /// Runs the template with `data` as dot (and `$`). `{{template "name"}}` finds the template's own definitions
    /// first, then `library`'s. `escape`, when given, writes what each action prints (html/template's escaping of
    /// values in HTML text); the template's own text is written as it is.
    /// - Throws: ``GoTemplateError`` with Go's message: `template: NAME:1:23: executing "NAME" at <…>: …`.
    package func execute<Functions: GoTemplateFunctions>(
        data: Functions.Value, functions: Functions, library: [String: Definition] = [:], escape: ((Functions.Value) -> String)? = nil
    ) throws(GoTemplateError) -> String {
        let named = library.isEmpty ? definitions : library.merging(definitions) { $1 }
        var executor = TemplateExecutor(
            name: name, source: source, functions: functions, definitions: named, variables: [("$", data)], escape: escape)
        _ = try executor.walk(root, dot: data)
        return executor.output
    }
}

extension GoTemplate.Pipeline {
    /// Whether the last command is the `html` function.
    var endsInHTMLEscaper: Bool {
        guard case .function("html")? = commands.last?.operands.first else { return false }
        return true
    }
}

/// The state of one template execution.
private struct TemplateExecutor<Functions: GoTemplateFunctions> {
    typealias Value = Functions.Value

    /// The name and source of the template whose nodes are being walked (a named template's, inside `template`).
    var name: String
    var source: [UInt8]
    let functions: Functions
    let definitions: [String: GoTemplate.Definition]
    var variables: [(String, Value)]
    /// How an action's value is written; nil writes what it prints.
    let escape: ((Value) -> String)?
    var output = ""
    /// How many `template` calls enclose the current one.
    var depth = 0

    func error(_ command: GoTemplate.Command?, position: Int, _ message: String) -> GoTemplateError {
        let (line, column) = GoTemplate.location(of: command?.position ?? position, in: source)
        let context = command.map { " at <\($0.text)>" } ?? ""
        return GoTemplateError(message: "template: \(name):\(line):\(column): executing \(GoText.quote(name))\(context): \(message)")
    }

    func error(_ failure: GoTemplateFailure, calling function: String?, _ command: GoTemplate.Command) -> GoTemplateError {
        switch failure {
        case .returned(let message):
            error(command, position: command.position, function.map { "error calling \($0): \(message)" } ?? message)
        case .argument(let message): error(command, position: command.position, message)
        }
    }

    /// How a list of nodes ended: at its end, or at a `{{break}}` or `{{continue}}` for the enclosing `range`.
    enum Flow { case normal, breakLoop, continueLoop }

    mutating func walk(_ nodes: [GoTemplate.Node], dot: Value) throws(GoTemplateError) -> Flow {
        for node in nodes {
            switch node {
            case .text(let text):
                output += text
            case .action(let pipeline):
                let value = try evaluate(pipeline, dot: dot)
                if pipeline.variables.isEmpty {
                    // html/template leaves an action that ends in `html` as it is: that output is escaped already.
                    if let escape, !pipeline.endsInHTMLEscaper { output += escape(value) } else { output += value.printed }
                }
            case .ifNode(let pipeline, let body, let elseBody):
                let mark = variables.count
                let value = try evaluate(pipeline, dot: dot)
                let flow = value.isTruthy ? try walk(body, dot: dot) : try elseBody.map { nodes throws(GoTemplateError) in try walk(nodes, dot: dot) }
                variables.removeSubrange(mark...)
                if let flow, flow != .normal { return flow }
            case .withNode(let pipeline, let body, let elseBody):
                let mark = variables.count
                let value = try evaluate(pipeline, dot: dot)
                let flow = value.isTruthy ? try walk(body, dot: value) : try elseBody.map { nodes throws(GoTemplateError) in try walk(nodes, dot: dot) }
                variables.removeSubrange(mark...)
                if let flow, flow != .normal { return flow }
            case .rangeNode(let pipeline, let body, let elseBody):
                let mark = variables.count
                let value = try evaluate(pipeline, dot: dot, declare: false)
                guard let elements = value.rangeElements else {
                    throw error(pipeline.commands.last, position: pipeline.position, "range can't iterate over \(value.printed)")
                }
                if elements.isEmpty {
                    if let elseBody, case let flow = try walk(elseBody, dot: dot), flow != .normal {
                        variables.removeSubrange(mark...)
                        return flow
                    }
                } else {
                    for (key, element) in elements {
                        let inner = variables.count
                        switch pipeline.variables.count {
                        case 1: variables.append((pipeline.variables[0], element))
                        case 2:
                            variables.append((pipeline.variables[0], key))
                            variables.append((pipeline.variables[1], element))
                        default: break
                        }
                        let flow = try walk(body, dot: element)
                        variables.removeSubrange(inner...)
                        if flow == .breakLoop { break }
                    }
                }
                variables.removeSubrange(mark...)
            case .template(let templateName, let pipeline, let position):
                guard let definition = definitions[templateName] else {
                    throw error(nil, position: position, "no such template \(GoText.quote(templateName))")
                }
                guard depth < 100 else {
                    throw error(nil, position: position, "exceeded maximum template depth (100) calling \(GoText.quote(templateName))")
                }
                let mark = variables.count
                let value = try pipeline.map { pipeline throws(GoTemplateError) in try evaluate(pipeline, dot: dot) } ?? Value(literal: .null)
                variables.removeSubrange(mark...)
                // The named template runs with the value as dot and `$`, and none of the caller's variables.
                let saved = (name, source, variables)
                (name, source, variables) = (definition.name, definition.source, [("$", value)])
                depth += 1
                defer {
                    depth -= 1
                    (name, source, variables) = saved
                }
                _ = try walk(definition.body, dot: value)
            case .breakNode:
                return .breakLoop
            case .continueNode:
                return .continueLoop
            }
        }
        return .normal
    }

    mutating func evaluate(_ pipeline: GoTemplate.Pipeline, dot: Value, declare: Bool = true) throws(GoTemplateError) -> Value {
        var value: Value?
        for command in pipeline.commands {
            value = try evaluate(command, dot: dot, final: value)
        }
        let result = value ?? Value(literal: .null)
        if declare, let name = pipeline.variables.first {
            if pipeline.isAssignment, let index = variables.lastIndex(where: { $0.0 == name }) {
                variables[index].1 = result
            } else {
                variables.append((name, result))
            }
        }
        return result
    }

    mutating func evaluate(_ command: GoTemplate.Command, dot: Value, final: Value?) throws(GoTemplateError) -> Value {
        guard let first = command.operands.first else { return Value(literal: .null) }
        if case .function(let name) = first {
            var arguments: [Value] = []
            for operand in command.operands.dropFirst() { arguments.append(try evaluate(operand, dot: dot, command: command)) }
            if let final { arguments.append(final) }
            do {
                return try functions.call(name, arguments)
            } catch {
                throw self.error(error, calling: name, command)
            }
        }
        guard command.operands.count > 1 || final != nil else { return try evaluate(first, dot: dot, command: command) }
        // Arguments after a field chain go to its last name, which must be a method (`.CommonLabels.Remove $names`).
        let nonFunction = error(command, position: command.position, "can't give argument to non-function \(command.text.split(separator: " ").first.map(String.init) ?? "")")
        let receiver: Value
        let method: String
        switch first {
        case .field(let fields) where !fields.isEmpty:
            receiver = try fieldChain(dot, fields.dropLast(), command: command)
            method = fields[fields.count - 1]
        case .variable(let name, let fields) where !fields.isEmpty:
            receiver = try fieldChain(try variable(name, command: command), fields.dropLast(), command: command)
            method = fields[fields.count - 1]
        case .pipeline(let pipeline, let fields) where !fields.isEmpty:
            receiver = try fieldChain(try evaluate(parenthesized: pipeline, dot: dot), fields.dropLast(), command: command)
            method = fields[fields.count - 1]
        default:
            throw nonFunction
        }
        var arguments: [Value] = []
        for operand in command.operands.dropFirst() { arguments.append(try evaluate(operand, dot: dot, command: command)) }
        if let final { arguments.append(final) }
        let result: Value?
        do {
            result = try receiver.method(method, arguments: arguments)
        } catch {
            throw self.error(error, calling: method, command)
        }
        guard let result else { throw nonFunction }
        return result
    }

    mutating func evaluate(_ operand: GoTemplate.Operand, dot: Value, command: GoTemplate.Command) throws(GoTemplateError) -> Value {
        switch operand {
        case .dot: return dot
        case .literal(let literal): return Value(literal: literal)
        case .field(let fields): return try fieldChain(dot, fields[...], command: command)
        case .variable(let name, let fields): return try fieldChain(try variable(name, command: command), fields[...], command: command)
        case .function(let name):
            do {
                return try functions.call(name, [])
            } catch {
                throw self.error(error, calling: name, command)
            }
        case .pipeline(let pipeline, let fields):
            return try fieldChain(try evaluate(parenthesized: pipeline, dot: dot), fields[...], command: command)
        }
    }

    /// A parenthesized pipeline's value; the variables it declares end with it.
    mutating func evaluate(parenthesized pipeline: GoTemplate.Pipeline, dot: Value) throws(GoTemplateError) -> Value {
        let mark = variables.count
        defer { variables.removeSubrange(mark...) }
        return try evaluate(pipeline, dot: dot)
    }

    func variable(_ name: String, command: GoTemplate.Command) throws(GoTemplateError) -> Value {
        guard let value = variables.last(where: { $0.0 == name })?.1 else {
            throw error(command, position: command.position, "undefined variable: \(name)")
        }
        return value
    }

    func fieldChain(_ start: Value, _ fields: ArraySlice<String>, command: GoTemplate.Command) throws(GoTemplateError) -> Value {
        var value = start
        for field in fields {
            do {
                value = try value.field(field)
            } catch {
                throw self.error(error, calling: nil, command)
            }
        }
        return value
    }
}
