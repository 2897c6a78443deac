import SightlineCore

/// Parses `metric{a="b"} 0+10x5 _ stale` lines (Prometheus' `ParseSeriesDesc`), sharing the PromQL lexer.
struct SeriesDescriptionParser {
    private var parser: ExpressionParser

    init(_ line: String) {
        parser = ExpressionParser(line, options: .allFeatures, seriesDescription: true)
    }

    mutating func parse() throws(PromQLParseError) -> (labels: Labels, values: [SeriesValue]) {
        try parser.advance()
        var labels: [Label] = []
        if ExpressionParser.isMetricIdentifier(parser.token.kind) {
            labels.append(Label(Labels.metricName, parser.token.text))
            try parser.advance()
        }
        if parser.token.kind == .leftBrace { labels.append(contentsOf: try parseLabelSet()) }
        var values: [SeriesValue] = []
        while parser.token.kind != .eof {
            guard parser.token.kind == .space else { throw parser.unexpected("series values", "") }
            try parser.advance()
            if parser.token.kind == .eof || parser.token.kind == .space { continue }
            values.append(contentsOf: try parseItem())
        }
        return (Labels(labels), values)
    }

    private mutating func parseLabelSet() throws(PromQLParseError) -> [Label] {
        try parser.advance()
        var labels: [Label] = []
        if parser.token.kind == .rightBrace {
            try parser.advance()
            return labels
        }
        while true {
            switch parser.token.kind {
            case .identifier:
                let name = parser.token.text
                try parser.advance()
                guard parser.token.kind == .assign else { throw parser.unexpected("label set", "\"=\"") }
                try parser.advance()
                guard parser.token.kind == .string else { throw parser.unexpected("label set", "string") }
                labels.append(Label(name, PromQLLiteral.unquote(parser.token.text)))
                try parser.advance()
            case .string:
                let name = PromQLLiteral.unquote(parser.token.text)
                try parser.advance()
                if parser.token.kind == .assign {
                    try parser.advance()
                    guard parser.token.kind == .string else { throw parser.unexpected("label set", "string") }
                    labels.append(Label(name, PromQLLiteral.unquote(parser.token.text)))
                    try parser.advance()
                } else {
                    labels.append(Label(Labels.metricName, name))
                }
            default:
                throw parser.unexpected("label set", "identifier or \"}\"")
            }
            switch parser.token.kind {
            case .comma:
                try parser.advance()
                if parser.token.kind == .rightBrace {
                    try parser.advance()
                    return labels
                }
            case .rightBrace:
                try parser.advance()
                return labels
            default:
                throw parser.unexpected("label set", "\",\" or \"}\"")
            }
        }
    }

    private mutating func parseItem() throws(PromQLParseError) -> [SeriesValue] {
        switch parser.token.kind {
        case .blank:
            try parser.advance()
            guard parser.token.kind == .times else { return [.missing] }
            try parser.advance()
            return Array(repeating: .missing, count: Int(try parseRepetition()))
        case .openHistogram:
            throw PromQLParseError(
                kind: .unsupported, start: parser.token.start, end: parser.query.utf8.count,
                message: "native histogram values are not supported in series descriptions", query: parser.query)
        default:
            break
        }
        let first = try parseValue(allowStale: true)
        switch parser.token.kind {
        case .times:
            try parser.advance()
            let count = try parseRepetition()
            return Array(repeating: first, count: Int(count) + 1)
        case .binaryOperator(.add), .binaryOperator(.sub):
            guard case .value(var current) = first else { throw parser.unexpected("series values", "") }
            let delta = try parseValue(allowStale: false)
            guard case .value(let step) = delta, parser.token.kind == .times else { throw parser.unexpected("series values", "") }
            try parser.advance()
            let count = try parseRepetition()
            var values: [SeriesValue] = []
            values.reserveCapacity(Int(count) + 1)
            for _ in 0...count {
                values.append(.value(current))
                current += step
            }
            return values
        default:
            return [first]
        }
    }

    /// `stale`, a number, or a signed number; a sign is required when `allowStale` is false (the step of `a+bxN`).
    private mutating func parseValue(allowStale: Bool) throws(PromQLParseError) -> SeriesValue {
        var negative = false
        var signed = false
        if case .binaryOperator(let sign) = parser.token.kind, sign == .add || sign == .sub {
            negative = sign == .sub
            signed = true
            try parser.advance()
        } else if !allowStale {
            throw parser.unexpected("series values", "")
        }
        switch parser.token.kind {
        case .identifier where allowStale && !signed:
            guard parser.token.text == "stale" else { throw parser.unexpected("series values", "number or \"stale\"") }
            try parser.advance()
            return .stale
        case .number, .duration:
            let value = try parser.literalSeconds(parser.token)
            try parser.advance()
            return .value(negative ? -value : value)
        default:
            throw parser.unexpected("series values", "number or \"stale\"")
        }
    }

    private mutating func parseRepetition() throws(PromQLParseError) -> UInt64 {
        guard parser.token.kind == .number else { throw parser.unexpected("series values", "") }
        guard let count = UInt64(parser.token.text), count < 10_000_000 else {
            throw parser.error(
                at: parser.token.start,
                "invalid repetition in series values: strconv.ParseUint: parsing \(GoText.quote(parser.token.text)): invalid syntax")
        }
        try parser.advance()
        return count
    }
}
