package import SightlineCore

/// A silence: while active, alerts whose labels satisfy every matcher are not notified (Alertmanager's model).
package struct Silence: Sendable, Equatable, Codable {
    /// One matcher as the v2 API writes it.
    package struct Matcher: Sendable, Equatable, Codable {
        package var name: String
        package var value: String
        package var isRegex: Bool
        package var isEqual: Bool
        package init(name: String, value: String, isRegex: Bool, isEqual: Bool = true) {
            self.name = name
            self.value = value
            self.isRegex = isRegex
            self.isEqual = isEqual
        }

        /// The compiled matcher.
        /// - Throws: `invalidArgument` when the regex does not compile.
        package func compiled() throws -> LabelMatcher {
            let kind: LabelMatcher.Kind = isRegex ? (isEqual ? .regexMatch : .regexNoMatch) : (isEqual ? .equal : .notEqual)
            return try LabelMatcher(name, kind, value)
        }
    }

    /// pending before `startsAt`, active until `endsAt`, expired after.
    package enum State: String, Sendable {
        case pending, active, expired
    }

    package var id: String
    package var matchers: [Matcher]
    package var startsAtMs: Int64
    package var endsAtMs: Int64
    package var updatedAtMs: Int64
    package var createdBy: String
    package var comment: String

    package init(id: String = "", matchers: [Matcher], startsAtMs: Int64, endsAtMs: Int64, updatedAtMs: Int64 = 0, createdBy: String, comment: String) {
        self.id = id
        self.matchers = matchers
        self.startsAtMs = startsAtMs
        self.endsAtMs = endsAtMs
        self.updatedAtMs = updatedAtMs
        self.createdBy = createdBy
        self.comment = comment
    }

    /// The state at `nowMs`.
    package func state(atMs nowMs: Int64) -> State {
        if nowMs < startsAtMs { return .pending }
        if nowMs < endsAtMs { return .active }
        return .expired
    }

    /// Whether every matcher holds for `labels` (regexes that no longer compile match nothing).
    package func matches(_ labels: Labels) -> Bool {
        matchers.allSatisfy { matcher in (try? matcher.compiled())?.matches(labels) ?? false }
    }
}

/// One tenant's silences: create, update, expire, query; persisted atomically as JSON after every change.
///
/// Updates follow Alertmanager: a silence is changed in place when its matchers are the same and the change is allowed
/// in its state (an active silence keeps its start and cannot end in the past, a pending one cannot start in the
/// past); otherwise the old one is expired (if active) and a new one with a new id takes its place.
package struct SilenceStore: Sendable {
    package private(set) var silences: [String: Silence] = [:] {
        didSet { compiled = Self.compile(silences) }
    }
    /// Each silence's matchers, compiled once rather than for every alert at every flush.
    private var compiled: [String: [LabelMatcher]] = [:]
    /// How long expired silences are kept (Alertmanager's `--data.retention`, 120h).
    package var retentionMs: Int64 = 120 * 3_600_000

    package init() {}

    /// Restores a store from its persisted form.
    package init(restoring list: [Silence]) {
        silences = Dictionary(list.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        // Property observers do not run in an initializer.
        compiled = Self.compile(silences)
    }

    private static func compile(_ silences: [String: Silence]) -> [String: [LabelMatcher]] {
        silences.mapValues { silence in silence.matchers.compactMap { try? $0.compiled() } }
    }

    /// The silences, newest update first.
    package var all: [Silence] { silences.values.sorted { ($0.updatedAtMs, $0.id) > ($1.updatedAtMs, $1.id) } }

    /// Checks a silence as Alertmanager's API does.
    /// - Throws: `invalidArgument` with Alertmanager's message.
    package static func validate(_ silence: Silence, nowMs: Int64) throws {
        guard !silence.matchers.isEmpty else { throw SightlineError(.invalidArgument, "at least one matcher required") }
        var allMatchEmpty = true
        for matcher in silence.matchers {
            guard !matcher.name.isEmpty else { throw SightlineError(.invalidArgument, "invalid label name \"\"") }
            let compiled = try matcher.compiled()
            if !compiled.matches("") { allMatchEmpty = false }
        }
        guard !allMatchEmpty else { throw SightlineError(.invalidArgument, "at least one matcher must not match the empty string") }
        guard silence.startsAtMs < silence.endsAtMs else {
            throw SightlineError(.invalidArgument, "Failed to create silence: start time must be before end time")
        }
        guard silence.endsAtMs >= nowMs else { throw SightlineError(.invalidArgument, "Failed to create silence: end time can't be in the past") }
    }

    /// Creates or updates a silence; returns its id (a new one when the update could not be done in place).
    /// - Throws: `invalidArgument` for a bad silence; `notFound` for an update of an unknown id.
    package mutating func set(_ input: Silence, nowMs: Int64, newID: () -> String) throws -> String {
        try Self.validate(input, nowMs: nowMs)
        var silence = input
        silence.updatedAtMs = nowMs
        if silence.startsAtMs < nowMs { silence.startsAtMs = nowMs }
        if !input.id.isEmpty {
            guard let previous = silences[input.id] else { throw SightlineError(.notFound, "silence \(input.id) not found") }
            if Self.canUpdate(previous, input, nowMs: nowMs) {
                var updated = input
                updated.updatedAtMs = nowMs
                silences[input.id] = updated
                return input.id
            }
            if previous.state(atMs: nowMs) == .active {
                var expired = previous
                expired.endsAtMs = nowMs
                expired.updatedAtMs = nowMs
                silences[previous.id] = expired
            }
        }
        silence.id = newID()
        silences[silence.id] = silence
        return silence.id
    }

    /// Whether `next` may replace `previous` in place.
    static func canUpdate(_ previous: Silence, _ next: Silence, nowMs: Int64) -> Bool {
        guard previous.matchers == next.matchers else { return false }
        switch previous.state(atMs: nowMs) {
        case .active: return next.startsAtMs == previous.startsAtMs && next.endsAtMs >= nowMs
        case .pending: return next.startsAtMs >= nowMs
        case .expired: return false
        }
    }

    /// Expires a silence now: an active one ends now, a pending one starts and ends now.
    /// - Throws: `notFound` for an unknown id; `invalidArgument` when it has already expired.
    package mutating func expire(id: String, nowMs: Int64) throws {
        guard var silence = silences[id] else { throw SightlineError(.notFound, "silence \(id) not found") }
        switch silence.state(atMs: nowMs) {
        case .expired: throw SightlineError(.invalidArgument, "silence \(id) already expired")
        case .active: silence.endsAtMs = nowMs
        case .pending:
            silence.startsAtMs = nowMs
            silence.endsAtMs = nowMs
        }
        silence.updatedAtMs = nowMs
        silences[id] = silence
    }

    /// The ids of the active silences that match `labels`, sorted.
    package func silencing(_ labels: Labels, nowMs: Int64) -> [String] {
        silences.values.filter { silence in
            guard silence.state(atMs: nowMs) == .active, let matchers = compiled[silence.id], matchers.count == silence.matchers.count else { return false }
            return LabelMatcher.notifyAll(matchers, match: labels)
        }.map(\.id).sorted()
    }

    /// Merges silences from another copy of this store (another server's): by id, the one updated later wins; with
    /// equal update times the one that ends first (an expiry wins). Silences expired longer than the retention are
    /// dropped from both sides, so copies that merge each other's converge.
    /// - Returns: Whether this store changed.
    package mutating func merge(_ incoming: [Silence], nowMs: Int64) -> Bool {
        var merged = silences.filter { $0.value.endsAtMs + retentionMs > nowMs }
        for silence in incoming where silence.endsAtMs + retentionMs > nowMs && !silence.id.isEmpty {
            guard let current = merged[silence.id] else {
                merged[silence.id] = silence
                continue
            }
            if silence.updatedAtMs > current.updatedAtMs || (silence.updatedAtMs == current.updatedAtMs && silence.endsAtMs < current.endsAtMs) {
                merged[silence.id] = silence
            }
        }
        guard merged != silences else { return false }
        silences = merged
        return true
    }

    /// Drops silences expired longer than the retention; returns whether any were dropped.
    package mutating func collectGarbage(nowMs: Int64) -> Bool {
        let before = silences.count
        silences = silences.filter { $0.value.endsAtMs + retentionMs > nowMs }
        return silences.count != before
    }
}
