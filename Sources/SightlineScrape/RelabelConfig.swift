package import SightlineCore

/// One step of `relabel_configs` or `metric_relabel_configs`, with Prometheus's defaults and semantics.
///
/// ```swift
/// let keepNode = RelabelConfig(action: .keep, sourceLabels: ["job"], regex: "node|blackbox")
/// let relabeled = Relabeler.apply(labels, [keepNode])
/// ```
package struct RelabelConfig: Sendable, Hashable {
    /// What the step does.
    package enum Action: String, Sendable, Hashable, CaseIterable {
        /// Sets `target_label` to the expanded `replacement` when `regex` matches the joined source values.
        case replace
        /// Drops the series or target unless `regex` matches the joined source values.
        case keep
        /// Drops the series or target when `regex` matches the joined source values.
        case drop
        /// Drops the series or target unless the joined source values equal the value of `target_label`.
        case keepEqual = "keepequal"
        /// Drops the series or target when the joined source values equal the value of `target_label`.
        case dropEqual = "dropequal"
        /// Sets `target_label` to the MD5 of the joined source values modulo `modulus` (for sharding).
        case hashMod = "hashmod"
        /// Copies every label whose name matches `regex` to the name given by `replacement`.
        case labelMap = "labelmap"
        /// Removes every label whose name matches `regex`.
        case labelDrop = "labeldrop"
        /// Removes every label whose name does not match `regex`.
        case labelKeep = "labelkeep"
        /// Sets `target_label` to the joined source values in lower case.
        case lowercase
        /// Sets `target_label` to the joined source values in upper case.
        case uppercase

        /// Parses an action name as written in YAML, in any case (`labelmap`, `hashmod`, `Replace`).
        package init?(name: String) {
            self.init(rawValue: name.lowercased())
        }
    }

    /// Default `regex`: everything, captured as group 1.
    package static let defaultRegex = "(.*)"
    /// Default `replacement`: group 1.
    package static let defaultReplacement = "$1"
    /// Default `separator` between source label values.
    package static let defaultSeparator = ";"

    package var action: Action
    /// Labels whose values, joined by ``separator``, are matched (a missing label is the empty string).
    package var sourceLabels: [String]
    package var separator: String
    /// The fully anchored pattern; assigning it compiles it.
    package var regex: String {
        get { compiledRegex.pattern }
        set { compiledRegex = RelabelRegex(newValue) }
    }
    /// The label written by `replace`, `hashmod`, `lowercase`, `uppercase`; compared by `keepequal`, `dropequal`.
    package var targetLabel: String
    /// The template for `replace` and `labelmap`: `$1`, `${1}`, `$name` refer to groups of ``regex``.
    package var replacement: String
    /// The divisor of `hashmod`.
    package var modulus: UInt64
    /// The compiled ``regex``.
    package private(set) var compiledRegex: RelabelRegex

    /// Creates a step; every parameter has the Prometheus default.
    package init(
        action: Action = .replace,
        sourceLabels: [String] = [],
        separator: String = RelabelConfig.defaultSeparator,
        regex: String = RelabelConfig.defaultRegex,
        targetLabel: String = "",
        replacement: String = RelabelConfig.defaultReplacement,
        modulus: UInt64 = 0
    ) {
        self.action = action
        self.sourceLabels = sourceLabels
        self.separator = separator
        self.compiledRegex = RelabelRegex(regex)
        self.targetLabel = targetLabel
        self.replacement = replacement
        self.modulus = modulus
    }

    /// Checks the step as Prometheus does when it loads a configuration.
    /// - Parameter field: Where the step is, for messages: `scrape_configs[0].relabel_configs[2]`.
    /// - Throws: ``SightlineError`` `.configuration` naming the field and what is wrong.
    package func validate(field: String) throws {
        func fail(_ message: String) -> SightlineError { SightlineError(.configuration, "\(field): \(message)") }
        if let error = compiledRegex.compileError {
            throw fail("regex \"\(regex)\" does not compile: \(error)")
        }
        switch action {
        case .replace, .hashMod, .lowercase, .uppercase, .keepEqual, .dropEqual:
            guard !targetLabel.isEmpty else { throw fail("action \(action.rawValue) requires target_label") }
        case .keep, .drop, .labelMap, .labelDrop, .labelKeep:
            break
        }
        if action == .hashMod && modulus == 0 { throw fail("action hashmod requires a non-zero modulus") }
        if (action == .keep || action == .drop || action == .hashMod) && sourceLabels.isEmpty {
            throw fail("action \(action.rawValue) requires source_labels")
        }
        if action == .labelDrop || action == .labelKeep {
            guard sourceLabels.isEmpty, targetLabel.isEmpty, modulus == 0, separator == Self.defaultSeparator,
                replacement == Self.defaultReplacement
            else { throw fail("action \(action.rawValue) requires only regex, and no other fields") }
        }
        if action == .keepEqual || action == .dropEqual {
            guard regex == Self.defaultRegex, modulus == 0, separator == Self.defaultSeparator,
                replacement == Self.defaultReplacement
            else { throw fail("action \(action.rawValue) requires only source_labels and target_label, and no other fields") }
        }
        if action == .lowercase || action == .uppercase || action == .hashMod || action == .keepEqual || action == .dropEqual {
            guard PrometheusLabelName.isValid(targetLabel) else { throw fail("target_label \"\(targetLabel)\" is not a valid label name") }
        }
        for name in sourceLabels where !PrometheusLabelName.isValid(name) {
            throw fail("source label \"\(name)\" is not a valid label name")
        }
    }
}

/// Checks label names: Prometheus 3 accepts any non-empty UTF-8; Sightline accepts the same.
package enum PrometheusLabelName {
    /// Whether `name` can name a label.
    package static func isValid(_ name: String) -> Bool { !name.isEmpty }

    /// Whether `name` matches the legacy `[a-zA-Z_][a-zA-Z0-9_]*`.
    package static func isLegacy(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(first &- 0x30 < 10) else { return false }
        return name.utf8.allSatisfy { c in
            (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x5F
        }
    }
}
