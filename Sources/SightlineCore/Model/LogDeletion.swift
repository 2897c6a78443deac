/// A Loki delete request: the records of the streams matching every matcher whose time lies in
/// `startNano...endNano` and whose line passes every line filter.
///
/// Like ``SeriesDeletion``, it travels through the WAL inside a batch (``LogBatch/deletions``), so it is applied in
/// order with the records around it.
package struct LogDeletion: Hashable, Sendable {
    /// One line filter of the request's query (`|= "a"`, `!= "a" or "b"`, `|~ "re"`, `!~ "re"`).
    package struct LineFilter: Hashable, Sendable, CustomStringConvertible {
        package enum Kind: UInt8, Sendable, CaseIterable {
            case contains, notContains, regex, notRegex

            package var text: String {
                switch self {
                case .contains: "|="
                case .notContains: "!="
                case .regex: "|~"
                case .notRegex: "!~"
                }
            }
        }

        package let kind: Kind
        /// The alternatives (`or`): a positive filter passes a line that holds (or matches) any of them, a negative
        /// one a line that holds none.
        package let values: [String]
        private let regexes: [LineRegex]

        /// - Throws: `invalidArgument` naming a pattern that does not compile.
        package init(_ kind: Kind, _ values: [String]) throws {
            self.kind = kind
            self.values = values
            switch kind {
            case .contains, .notContains:
                regexes = []
            case .regex, .notRegex:
                regexes = try values.map { pattern in
                    do {
                        return LineRegex(try Regex(pattern))
                    } catch {
                        throw SightlineError(.invalidArgument, "invalid regular expression \"\(pattern)\" in a line filter", cause: error)
                    }
                }
            }
        }

        /// Whether `line` passes the filter.
        package func passes(_ line: String) -> Bool {
            switch kind {
            case .contains: values.contains { $0.isEmpty || line.contains($0) }
            case .notContains: !values.contains { $0.isEmpty || line.contains($0) }
            case .regex: regexes.contains { $0.matches(line) }
            case .notRegex: !regexes.contains { $0.matches(line) }
            }
        }

        package var description: String { "\(kind.text) " + values.map { JSONText.quoted($0) }.joined(separator: " or ") }

        package static func == (a: LineFilter, b: LineFilter) -> Bool { a.kind == b.kind && a.values == b.values }

        package func hash(into hasher: inout Hasher) {
            hasher.combine(kind)
            hasher.combine(values)
        }
    }

    /// The id the API lists and cancels it by.
    package var requestID: String
    /// The query as the client wrote it.
    package var query: String
    package var matchers: [LabelMatcher]
    package var lineFilters: [LineFilter]
    package var startNano: UInt64
    package var endNano: UInt64
    /// When the request was made, in ms since the epoch.
    package var createdAtMs: Int64

    package init(
        requestID: String, query: String, matchers: [LabelMatcher], lineFilters: [LineFilter] = [], startNano: UInt64, endNano: UInt64,
        createdAtMs: Int64
    ) {
        self.requestID = requestID
        self.query = query
        self.matchers = matchers
        self.lineFilters = lineFilters
        self.startNano = startNano
        self.endNano = endNano
        self.createdAtMs = createdAtMs
    }

    /// Whether the deletion may cover records of the stream with `labels`.
    package func covers(stream labels: Labels) -> Bool { matchers.allSatisfy { $0.matches(labels) } }

    /// Whether the deletion covers a record of a covered stream at `timeNano` whose line `line` gives.
    package func covers(timeNano: UInt64, line: () -> String) -> Bool {
        guard timeNano >= startNano && timeNano <= endNano else { return false }
        guard !lineFilters.isEmpty else { return true }
        let text = line()
        return lineFilters.allSatisfy { $0.passes(text) }
    }
}

/// A compiled line-filter regex, matched anywhere in the line as LogQL does. `Regex` is not `Sendable`; a compiled one
/// is never mutated, and matching does not mutate it.
private final class LineRegex: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>
    init(_ regex: Regex<AnyRegexOutput>) { self.regex = regex }
    func matches(_ line: String) -> Bool { (try? regex.firstMatch(in: line)) != nil }
}

/// The delete requests a log store has applied, for `GET /loki/api/v1/delete`.
package protocol LogDeletionRequests: Sendable {
    /// The applied requests of `tenant`, oldest first.
    func deletionRequests(tenant: Tenant) -> [LogDeletion]
}
