/// Why a template function failed: Go wraps errors a function returns as `error calling NAME: …`, while argument
/// conversion errors stand alone.
enum TemplateFunctionError: Error {
    /// An error the function returned.
    case returned(String)
    /// A wrong argument (type or count).
    case argument(String)
}

/// Calls template functions by name.
protocol TemplateFunctionTable {
    func call(_ name: String, _ arguments: [TemplateValue]) throws(TemplateFunctionError) -> TemplateValue
}

extension GoTemplate {
    /// Runs the template with `data` as dot (and `$`).
    /// - Throws: ``RuleTemplateError`` with Go's message: `template: NAME:1:23: executing "NAME" at <…>: …`.
    func execute(data: TemplateValue, functions: some TemplateFunctionTable) throws(RuleTemplateError) -> String {
        var executor = TemplateExecutor(template: self, functions: functions, variables: [("$", data)])
        try executor.walk(root, dot: data)
        return executor.output
    }
}

/// The state of one template execution.
private struct TemplateExecutor<Functions: TemplateFunctionTable> {
    let template: GoTemplate
    let functions: Functions
    var variables: [(String, TemplateValue)]
    var output = ""

    init(template: GoTemplate, functions: Functions, variables: [(String, TemplateValue)]) {
        self.template = template
        self.functions = functions
        self.variables = variables
    }

    func error(_ command: GoTemplate.Command?, position: Int, _ message: String) -> RuleTemplateError {
        let (line, column) = template.location(of: command?.position ?? position)
        let context = command.map { " at <\($0.text)>" } ?? ""
        return RuleTemplateError(
            message: "template: \(template.name):\(line):\(column): executing \(GoTextQuote.string(template.name))\(context): \(message)")
    }

    mutating func walk(_ nodes: [GoTemplate.Node], dot: TemplateValue) throws(RuleTemplateError) {
        for node in nodes {
            switch node {
            case .text(let text):
                output += text
            case .action(let pipeline):
                let value = try evaluate(pipeline, dot: dot)
                if pipeline.variables.isEmpty { output += value.printed }
            case .ifNode(let pipeline, let body, let elseBody):
                let mark = variables.count
                let value = try evaluate(pipeline, dot: dot)
                if value.isTruthy {
                    try walk(body, dot: dot)
                } else if let elseBody {
                    try walk(elseBody, dot: dot)
                }
                variables.removeSubrange(mark...)
            case .withNode(let pipeline, let body, let elseBody):
                let mark = variables.count
                let value = try evaluate(pipeline, dot: dot)
                if value.isTruthy {
                    try walk(body, dot: value)
                } else if let elseBody {
                    try walk(elseBody, dot: dot)
                }
                variables.removeSubrange(mark...)
            case .rangeNode(let pipeline, let body, let elseBody):
                let mark = variables.count
                let value = try evaluate(pipeline, dot: dot, declare: false)
                var elements: [(TemplateValue, TemplateValue)] = []
                switch value {
                case .samples(let samples): elements = samples.enumerated().map { (.int(Int64($0.offset)), .sample($0.element)) }
                case .stringMap(let map): elements = map.keys.sorted().map { (.string($0), .string(map[$0] ?? "")) }
                case .int(let count) where count > 0: elements = (0..<count).map { (.int($0), .int($0)) }
                case .int, .null: elements = []
                default:
                    throw error(pipeline.commands.last, position: pipeline.position, "range can't iterate over \(value.printed)")
                }
                if elements.isEmpty {
                    if let elseBody { try walk(elseBody, dot: dot) }
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
                        try walk(body, dot: element)
                        variables.removeSubrange(inner...)
                    }
                }
                variables.removeSubrange(mark...)
            }
        }
    }

    mutating func evaluate(_ pipeline: GoTemplate.Pipeline, dot: TemplateValue, declare: Bool = true) throws(RuleTemplateError) -> TemplateValue {
        var value: TemplateValue?
        for command in pipeline.commands {
            value = try evaluate(command, dot: dot, final: value)
        }
        let result = value ?? .null
        if declare, let name = pipeline.variables.first {
            if pipeline.isAssignment, let index = variables.lastIndex(where: { $0.0 == name }) {
                variables[index].1 = result
            } else {
                variables.append((name, result))
            }
        }
        return result
    }

    mutating func evaluate(_ command: GoTemplate.Command, dot: TemplateValue, final: TemplateValue?) throws(RuleTemplateError) -> TemplateValue {
        guard let first = command.operands.first else { return .null }
        if case .function(let name) = first {
            var arguments: [TemplateValue] = []
            for operand in command.operands.dropFirst() { arguments.append(try evaluate(operand, dot: dot, command: command)) }
            if let final { arguments.append(final) }
            do {
                return try functions.call(name, arguments)
            } catch {
                switch error {
                case .returned(let message): throw self.error(command, position: command.position, "error calling \(name): \(message)")
                case .argument(let message): throw self.error(command, position: command.position, message)
                }
            }
        }
        if command.operands.count > 1 || final != nil {
            throw error(command, position: command.position, "can't give argument to non-function \(command.text.split(separator: " ").first.map(String.init) ?? "")")
        }
        return try evaluate(first, dot: dot, command: command)
    }

    mutating func evaluate(_ operand: GoTemplate.Operand, dot: TemplateValue, command: GoTemplate.Command) throws(RuleTemplateError) -> TemplateValue {
        switch operand {
        case .dot: return dot
        case .literal(let value): return value
        case .field(let fields): return try fieldChain(dot, fields, command: command)
        case .variable(let name, let fields):
            guard let value = variables.last(where: { $0.0 == name })?.1 else {
                throw error(command, position: command.position, "undefined variable: \(name)")
            }
            return try fieldChain(value, fields, command: command)
        case .function(let name):
            do {
                return try functions.call(name, [])
            } catch {
                switch error {
                case .returned(let message): throw self.error(command, position: command.position, "error calling \(name): \(message)")
                case .argument(let message): throw self.error(command, position: command.position, message)
                }
            }
        case .pipeline(let pipeline, let fields):
            let mark = variables.count
            let value = try evaluate(pipeline, dot: dot)
            variables.removeSubrange(mark...)
            return try fieldChain(value, fields, command: command)
        }
    }

    func fieldChain(_ start: TemplateValue, _ fields: [String], command: GoTemplate.Command) throws(RuleTemplateError) -> TemplateValue {
        var value = start
        for field in fields {
            switch value {
            case .stringMap(let map):
                value = .string(map[field] ?? "")
            case .record(let members, let typeName):
                guard let member = members[field] else {
                    throw error(command, position: command.position, "can't evaluate field \(field) in type \(typeName)")
                }
                value = member
            case .sample(let sample):
                switch field {
                case "Labels": value = .stringMap(sample.labels)
                case "Value": value = .float(sample.value)
                default: throw error(command, position: command.position, "can't evaluate field \(field) in type *template.sample")
                }
            case .null:
                throw error(command, position: command.position, "nil pointer evaluating interface {}.\(field)")
            default:
                throw error(command, position: command.position, "can't evaluate field \(field) in type \(value.goTypeName)")
            }
        }
        return value
    }
}
