import SightlineCore

/// LogQL text for a parsed expression, in Loki's canonical spelling (`sum by (a)(count_over_time({app="x"} |= "y"
/// [5m]))`), for `/format_query`, logs and error messages. Printing and parsing again gives the same expression.
extension LogQLExpr: CustomStringConvertible {
    package var description: String {
        switch self {
        case .log(let selector): selector.description
        case .rangeAggregation(let range): range.description
        case .vectorAggregation(let aggregation): aggregation.description
        case .binary(let binary): binary.description
        case .literal(let value): GoText.formatFloat(value)
        case .vector(let value): "vector(\(GoText.formatFloat(value)))"
        case .labelReplace(let inner, let arguments):
            "label_replace(\(inner), \(GoText.quote(arguments.destination)), \(GoText.quote(arguments.replacement)), "
                + "\(GoText.quote(arguments.source)), \(GoText.quote(arguments.regex)))"
        }
    }
}

extension LogSelectorExpr: CustomStringConvertible {
    package var description: String {
        var out = "{" + matchers.map { "\($0.name)\($0.kind.rawValue)\(GoText.quote($0.value))" }.joined(separator: ", ") + "}"
        for stage in stages { out += " " + stage.description }
        return out
    }
}

extension LogStage: CustomStringConvertible {
    package var description: String {
        switch self {
        case .lineFilter(let filter):
            let values = filter.alternatives.map { alternative -> String in
                switch alternative {
                case .text(let text): GoText.quote(text)
                case .ip(let pattern): "ip(\(GoText.quote(pattern)))"
                }
            }
            return "\(filter.kind.rawValue) " + values.joined(separator: " or ")
        case .parser(let parser):
            switch parser {
            case .json(let extractions): return "| json" + Self.extractions(extractions)
            case .logfmt(let strict, let keepEmpty, let extractions):
                return "| logfmt" + (strict ? " --strict" : "") + (keepEmpty ? " --keep-empty" : "") + Self.extractions(extractions)
            case .regexp(let pattern): return "| regexp \(GoText.quote(pattern))"
            case .pattern(let pattern): return "| pattern \(GoText.quote(pattern))"
            case .unpack: return "| unpack"
            }
        case .labelFilter(let filter): return "| \(filter)"
        case .lineFormat(let template): return "| line_format \(GoText.quote(template))"
        case .labelFormat(let items):
            return "| label_format "
                + items.map { item -> String in
                    switch item {
                    case .rename(let destination, let source): "\(destination)=\(source)"
                    case .template(let destination, let template): "\(destination)=\(GoText.quote(template))"
                    }
                }.joined(separator: ", ")
        case .drop(let items): return "| drop " + Self.named(items)
        case .keep(let items): return "| keep " + Self.named(items)
        case .decolorize: return "| decolorize"
        }
    }

    private static func extractions(_ items: [LabelExtraction]) -> String {
        if items.isEmpty { return "" }
        return " " + items.map { $0.name == $0.path ? $0.name : "\($0.name)=\(GoText.quote($0.path))" }.joined(separator: ", ")
    }

    private static func named(_ items: [NamedLabelMatcher]) -> String {
        items.map { item in
            item.matcher.map { "\($0.name)\($0.kind.rawValue)\(GoText.quote($0.value))" } ?? item.name
        }.joined(separator: ", ")
    }
}

extension LabelFilterExpr: CustomStringConvertible {
    package var description: String {
        switch self {
        case .matcher(let matcher): "\(matcher.name)\(matcher.kind.rawValue)\(GoText.quote(matcher.value))"
        case .numeric(let name, let op, let value): "\(name)\(op.rawValue)\(GoText.formatFloat(value))"
        case .duration(let name, let op, let seconds):
            "\(name)\(op.rawValue)\(LogQLDurationText.format(nanoseconds: Int64((seconds * 1e9).rounded())))"
        case .bytes(let name, let op, let value): "\(name)\(op.rawValue)\(GoText.formatFloat(value))B"
        case .ip(let name, let equal, let pattern): "\(name)\(equal ? "=" : "!=")ip(\(GoText.quote(pattern)))"
        case .and(let a, let b): "\(a), \(b)"
        case .or(let a, let b): "(\(a) or \(b))"
        }
    }
}

extension RangeAggregationExpr: CustomStringConvertible {
    package var description: String {
        var out = op.rawValue + "("
        if let parameter { out += GoText.formatFloat(parameter) + ", " }
        out += range.selector.description
        if let unwrap = range.unwrap {
            out += " | unwrap "
            switch unwrap.conversion {
            case .number: out += unwrap.label
            case .duration: out += "duration(\(unwrap.label))"
            case .bytes: out += "bytes(\(unwrap.label))"
            }
            for filter in unwrap.postFilters { out += " | \(filter)" }
        }
        out += " [\(LogQLDurationText.range(nanoseconds: range.rangeNs))]"
        if range.offsetNs != 0 { out += " offset \(LogQLDurationText.range(nanoseconds: range.offsetNs))" }
        out += ")"
        if let grouping { out += " " + grouping.description }
        return out
    }
}

extension LogQLGrouping: CustomStringConvertible {
    package var description: String { (without ? "without" : "by") + " (" + labels.joined(separator: ", ") + ")" }
}

extension VectorAggregationExpr: CustomStringConvertible {
    package var description: String {
        var out = op.rawValue
        if let grouping { out += " " + grouping.description }
        out += "("
        if let parameter { out += GoText.formatFloat(parameter) + ", " }
        return out + expr.description + ")"
    }
}

extension LogQLBinaryExpr: CustomStringConvertible {
    package var description: String {
        var modifiers = returnBool ? " bool" : ""
        if let matching {
            if matching.on || !matching.matchingLabels.isEmpty {
                modifiers += (matching.on ? " on" : " ignoring") + " (" + matching.matchingLabels.joined(separator: ", ") + ")"
            }
            switch matching.cardinality {
            case .manyToOne: modifiers += " group_left (" + matching.include.joined(separator: ", ") + ")"
            case .oneToMany: modifiers += " group_right (" + matching.include.joined(separator: ", ") + ")"
            default: break
            }
        }
        return "(\(lhs) \(op.rawValue)\(modifiers) \(rhs))"
    }
}

/// Durations as Loki prints them (Go's `time.Duration.String()`: `1h30m0s`, `5m0s`, `250ms`), which its lexer reads
/// back.
enum LogQLDurationText {
    /// A range or offset as Loki prints it (Prometheus' `model.Duration`: `5m`, `1h30m`, `1d`), or Go's form when it is
    /// not a whole number of milliseconds.
    static func range(nanoseconds: Int64) -> String {
        nanoseconds % 1_000_000 == 0 ? PrometheusDuration.format(milliseconds: nanoseconds / 1_000_000) : format(nanoseconds: nanoseconds)
    }

    static func format(nanoseconds: Int64) -> String {
        if nanoseconds == 0 { return "0s" }
        let negative = nanoseconds < 0
        var rest = nanoseconds.magnitude
        var out = negative ? "-" : ""
        if rest < 1_000_000_000 {
            if rest % 1_000_000 == 0 { return out + "\(rest / 1_000_000)ms" }
            if rest % 1000 == 0 { return out + "\(rest / 1000)us" }
            return out + "\(rest)ns"
        }
        let hours = rest / 3_600_000_000_000
        rest -= hours * 3_600_000_000_000
        let minutes = rest / 60_000_000_000
        rest -= minutes * 60_000_000_000
        if hours > 0 { out += "\(hours)h" }
        if hours > 0 || minutes > 0 { out += "\(minutes)m" }
        let seconds = rest / 1_000_000_000
        let fraction = rest % 1_000_000_000
        if fraction == 0 {
            out += "\(seconds)s"
        } else {
            var digits = String(fraction)
            digits = String(repeating: "0", count: 9 - digits.count) + digits
            while digits.hasSuffix("0") { digits.removeLast() }
            out += "\(seconds).\(digits)s"
        }
        return out
    }
}
