import SightlineCore

/// The head's inverted index: for every label name, its values, and for every pair the sorted ids of the series
/// that carry it (postings).
///
/// Series ids grow monotonically, so adding a series appends to each of its postings lists.
struct HeadIndex {
    /// Label name → value → postings.
    private(set) var postings: [String: [String: [UInt32]]] = [:]
    /// Every series id, ascending.
    private(set) var all: [UInt32] = []
    /// Changes whenever a label pair appears or disappears, so a query that matched regexes against a snapshot of
    /// label values can tell whether the snapshot is still complete.
    private(set) var generation: UInt64 = 0

    /// Indexes a new series.
    mutating func add(_ id: UInt32, _ labels: Labels) {
        Postings.insert(id, into: &all)
        for label in labels.labels {
            Postings.insert(id, into: &postings[label.name, default: [:]][label.value, default: []])
            if postings[label.name]?[label.value]?.count == 1 { generation &+= 1 }
        }
    }

    /// Removes a series, and the label pairs and names nothing else carries.
    mutating func remove(_ id: UInt32, _ labels: Labels) {
        Postings.remove(id, from: &all)
        for label in labels.labels {
            guard var values = postings[label.name], var list = values[label.value] else { continue }
            postings[label.name] = nil  // Drop the dictionary's reference so the edits below do not copy.
            values[label.value] = nil
            Postings.remove(id, from: &list)
            if list.isEmpty { generation &+= 1 } else { values[label.value] = list }
            if !values.isEmpty { postings[label.name] = values }
        }
    }

    /// The values of `name` with their postings, or nil when no series has the label.
    func values(of name: String) -> [String: [UInt32]]? { postings[name] }

    /// The number of distinct label pairs.
    var labelPairCount: Int { postings.values.reduce(0) { $0 + $1.count } }

    /// The series ids selected by resolved matchers (see ``MatcherPlan``), ascending.
    func select(_ plans: [MatcherPlan]) -> [UInt32] {
        var includes: [[UInt32]] = []
        var excludes: [[UInt32]] = []
        for plan in plans {
            let list = postings(for: plan)
            if plan.include { includes.append(list) } else if !list.isEmpty { excludes.append(list) }
        }
        includes.sort { $0.count < $1.count }
        var result: [UInt32]
        if let first = includes.first {
            result = first
            for list in includes.dropFirst() {
                if result.isEmpty { break }
                result = Postings.intersect(result, list)
            }
        } else {
            result = all
        }
        for list in excludes {
            if result.isEmpty { break }
            result = Postings.subtract(result, list)
        }
        return result
    }

    private func postings(for plan: MatcherPlan) -> [UInt32] {
        guard let values = postings[plan.name] else { return [] }
        switch plan.values {
        case .all:
            return Postings.union(Array(values.values))
        case .some(let selected):
            return Postings.union(selected.compactMap { values[$0] })
        }
    }
}

/// One label matcher resolved to label values, with the Prometheus rule for absent labels built in.
///
/// A matcher that does not match the empty string selects the series whose value matches (`include`). One that
/// does match it also selects series without the label, so it is turned around: it excludes the series whose value
/// does not match (`include == false`).
struct MatcherPlan: Sendable {
    /// Which values of the label the plan names.
    enum Values: Sendable {
        case all
        case some([String])
    }

    var name: String
    var include: Bool
    var values: Values

    /// Resolves `matcher`; `values` lists the label's current values and is only read for regex matchers.
    init(_ matcher: LabelMatcher, values: @autoclosure () -> [String]) {
        name = matcher.name
        include = !matcher.matches("")
        switch matcher.kind {
        case .equal:
            // `="v"` includes v; `=""` excludes every value (series without the label remain).
            self.values = matcher.value.isEmpty ? .all : .some([matcher.value])
        case .notEqual:
            // `!="v"` excludes v; `!=""` includes every value (series with the label).
            self.values = matcher.value.isEmpty ? .all : .some([matcher.value])
        case .regexMatch, .regexNoMatch:
            let wanted = include
            self.values = .some(values().filter { matcher.matches($0) == wanted })
        }
    }

    /// Whether resolving the matcher needs the label's values (regex matchers).
    static func needsValues(_ matcher: LabelMatcher) -> Bool {
        matcher.kind == .regexMatch || matcher.kind == .regexNoMatch
    }
}
