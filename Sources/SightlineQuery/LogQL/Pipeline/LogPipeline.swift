package import SightlineCore

/// A log pipeline compiled once per query and run on every record: line filters, parsers, label filters, formatters
/// and label edits in order, with Loki's `__error__` semantics (a failing parser, template or conversion sets
/// `__error__` and `__error_details__`, unless an earlier stage did, and keeps the line so `| __error__=""` can decide).
package struct LogPipeline: Sendable {
    private enum Stage: Sendable {
        case lineFilter(LineFilter)
        case json(JSONStage)
        case logfmt(LogfmtStage)
        case regexp(LogRegexpParserBox)
        case pattern(LinePattern)
        case unpack
        case labelFilter(LabelFilter)
        case lineFormat(LogTemplate)
        case labelFormat([(destination: String, source: String?, template: LogTemplate?)])
        case drop([NamedLabelMatcher])
        case keep([NamedLabelMatcher])
        case decolorize
    }

    private let stages: [Stage]
    /// Whether no stage reads or changes the labels (then a record's labels are its stream labels and metadata, and
    /// the builder need not be filled).
    let keepsLabels: Bool

    /// Compiles the stages of a selector.
    /// - Throws: `invalidArgument` for a stage that does not compile (the parser has checked them already).
    package init(_ stages: [LogStage]) throws(SightlineError) {
        var compiled: [Stage] = []
        var keepsLabels = true
        for stage in stages {
            switch stage {
            case .lineFilter(let filter):
                compiled.append(.lineFilter(try LineFilter(filter)))
            case .parser(let parser):
                keepsLabels = false
                switch parser {
                case .json(let extractions): compiled.append(.json(JSONStage(extractions)))
                case .logfmt(let strict, let keepEmpty, let extractions):
                    compiled.append(.logfmt(LogfmtStage(strict: strict, keepEmpty: keepEmpty, extractions: extractions)))
                case .regexp(let pattern): compiled.append(.regexp(LogRegexpParserBox(try LogRegexpParser(pattern))))
                case .pattern(let pattern): compiled.append(.pattern(try LinePattern(pattern, requireCapture: true)))
                case .unpack: compiled.append(.unpack)
                }
            case .labelFilter(let filter):
                keepsLabels = false
                compiled.append(.labelFilter(try LabelFilter(filter)))
            case .lineFormat(let template):
                // It reads the labels, so they must be built even though it does not change them.
                keepsLabels = false
                compiled.append(.lineFormat(try LogTemplate(template)))
            case .labelFormat(let items):
                keepsLabels = false
                var out: [(String, String?, LogTemplate?)] = []
                for item in items {
                    switch item {
                    case .rename(let destination, let source): out.append((destination, source, nil))
                    case .template(let destination, let template): out.append((destination, nil, try LogTemplate(template)))
                    }
                }
                compiled.append(.labelFormat(out))
            case .drop(let items):
                keepsLabels = false
                compiled.append(.drop(items))
            case .keep(let items):
                keepsLabels = false
                compiled.append(.keep(items))
            case .decolorize:
                compiled.append(.decolorize)
            }
        }
        self.stages = compiled
        self.keepsLabels = keepsLabels
    }

    /// Runs the pipeline on one record: `line` may be rewritten and `labels` extended. False when the record is
    /// filtered out.
    package func process(line: inout String, timeNs: Int64, labels: inout LogLabelsBuilder) -> Bool {
        for stage in stages {
            switch stage {
            case .lineFilter(let filter):
                if !filter.matches(line) { return false }
            case .json(let parser):
                parser.process(line, &labels)
            case .logfmt(let parser):
                parser.process(line, &labels)
            case .regexp(let parser):
                parser.parser.process(line, &labels)
            case .pattern(let pattern):
                if let captures = pattern.match(line) {
                    for (name, value) in captures { labels.setParsed(name, value) }
                }
            case .unpack:
                UnpackStage.process(&line, &labels)
            case .labelFilter(let filter):
                if !filter.process(&labels) { return false }
            case .lineFormat(let template):
                do {
                    line = try template.render(labels: labels.snapshot, line: line, timestampNs: timeNs)
                } catch {
                    labels.setError(LogPipelineError.templateFormat, details: error.message)
                }
            case .labelFormat(let items):
                let snapshot = labels.snapshot
                for item in items {
                    if let source = item.source {
                        let value = snapshot[source] ?? ""
                        if source != item.destination { labels.delete(source) }
                        labels.set(item.destination, value)
                    } else if let template = item.template {
                        do {
                            labels.set(item.destination, try template.render(labels: snapshot, line: line, timestampNs: timeNs))
                        } catch {
                            labels.setError(LogPipelineError.templateFormat, details: error.message)
                        }
                    }
                }
            case .drop(let items):
                labels.retain { name, value in
                    !items.contains { item in item.name == name && (item.matcher?.matches(value) ?? true) }
                }
            case .keep(let items):
                labels.retain { name, value in
                    // The error labels survive `keep`, as in Loki.
                    name == LogLabelsBuilder.errorLabel || name == LogLabelsBuilder.errorDetailsLabel
                        || items.contains { item in item.name == name && (item.matcher?.matches(value) ?? true) }
                }
            case .decolorize:
                line = Decolorize.apply(line)
            }
        }
        return true
    }
}

/// Holds a compiled `regexp` parser (its `Regex` is not `Sendable`, but it is never mutated).
private final class LogRegexpParserBox: @unchecked Sendable {
    let parser: LogRegexpParser
    init(_ parser: LogRegexpParser) { self.parser = parser }
}

/// A compiled line filter.
struct LineFilter: @unchecked Sendable {
    private enum Matcher {
        case contains([UInt8])
        case regex(LogRegex)
        case pattern(LinePattern)
        case ip(IPMatcher)

        func matches(_ line: String) -> Bool {
            switch self {
            case .contains(let needle): ByteSearch.contains(line, needle)
            case .regex(let regex): regex.matches(line)
            case .pattern(let pattern): pattern.match(line) != nil
            case .ip(let ip): ip.matchesAny(in: line)
            }
        }
    }

    private let negative: Bool
    private let matchers: [Matcher]

    init(_ expr: LineFilterExpr) throws(SightlineError) {
        negative = expr.kind.isNegative
        var matchers: [Matcher] = []
        for alternative in expr.alternatives {
            switch alternative {
            case .ip(let pattern):
                guard let ip = IPMatcher(pattern) else { throw SightlineError(.invalidArgument, "invalid ip pattern \(GoText.quote(pattern))") }
                matchers.append(.ip(ip))
            case .text(let text):
                switch expr.kind {
                case .contains, .notContains: matchers.append(.contains(Array(text.utf8)))
                case .regex, .notRegex:
                    guard let regex = LogRegex(text) else { throw SightlineError(.invalidArgument, "invalid regular expression \(GoText.quote(text))") }
                    matchers.append(.regex(regex))
                case .pattern, .notPattern: matchers.append(.pattern(try LinePattern(text, requireCapture: false)))
                }
            }
        }
        self.matchers = matchers
    }

    /// Positive filters keep a line any alternative matches; negative ones a line no alternative matches.
    func matches(_ line: String) -> Bool {
        let any = matchers.contains { $0.matches(line) }
        return negative ? !any : any
    }
}

/// A compiled label filter.
struct LabelFilter: @unchecked Sendable {
    private indirect enum Node {
        case matcher(LabelMatcher)
        case numeric(String, LabelFilterComparison, Double, Kind)
        case ip(String, Bool, IPMatcher)
        case and(Node, Node)
        case or(Node, Node)
    }

    /// How a numeric filter reads the label value.
    private enum Kind {
        case number, duration, bytes
    }

    private let root: Node

    init(_ expr: LabelFilterExpr) throws(SightlineError) {
        root = try Self.compile(expr)
    }

    /// Compiles the filter tree (`ip()` patterns parsed once).
    private static func compile(_ expr: LabelFilterExpr) throws(SightlineError) -> Node {
        switch expr {
        case .matcher(let matcher): return .matcher(matcher)
        case .numeric(let name, let op, let value): return .numeric(name, op, value, .number)
        case .duration(let name, let op, let seconds): return .numeric(name, op, seconds, .duration)
        case .bytes(let name, let op, let value): return .numeric(name, op, value, .bytes)
        case .ip(let name, let equal, let pattern):
            guard let ip = IPMatcher(pattern) else { throw SightlineError(.invalidArgument, "invalid ip pattern \(GoText.quote(pattern))") }
            return .ip(name, equal, ip)
        case .and(let a, let b): return .and(try compile(a), try compile(b))
        case .or(let a, let b): return .or(try compile(a), try compile(b))
        }
    }

    /// Whether the record passes. A numeric filter on a missing label fails; a value that does not convert sets
    /// `__error__=LabelFilterErr` (unless an error is already set) and passes.
    func process(_ labels: inout LogLabelsBuilder) -> Bool {
        Self.evaluate(root, &labels)
    }

    /// Evaluates one node; `and` and `or` short-circuit as Loki's do.
    private static func evaluate(_ node: Node, _ labels: inout LogLabelsBuilder) -> Bool {
        switch node {
        case .matcher(let matcher):
            return matcher.matches(labels.get(matcher.name) ?? "")
        case .ip(let name, let equal, let ip):
            guard let value = labels.get(name) else { return false }
            return ip.matches(address: value) == equal
        case .numeric(let name, let op, let reference, let kind):
            guard let text = labels.get(name) else { return false }
            let value: Double?
            switch kind {
            case .number: value = LogQLUnits.number(text.trimmingSpaces)
            case .duration: value = LogQLUnits.durationNanoseconds(text.trimmingSpaces).map { Double($0) / 1e9 }
            case .bytes: value = LogQLUnits.bytes(text.trimmingSpaces)
            }
            guard let value else {
                labels.setError(LogPipelineError.labelFilter, details: "cannot convert \(GoText.quote(text)) for label \(name)")
                return true
            }
            return op.holds(value, reference)
        case .and(let a, let b):
            return evaluate(a, &labels) && evaluate(b, &labels)
        case .or(let a, let b):
            return evaluate(a, &labels) || evaluate(b, &labels)
        }
    }
}
