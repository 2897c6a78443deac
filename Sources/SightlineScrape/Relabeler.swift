package import SightlineCore

/// Applies relabeling steps to a label set with Prometheus semantics (`model/relabel` in Prometheus).
///
/// Setting a label to the empty string removes it. Steps run in order; `keep`, `drop`, `keepequal` and `dropequal`
/// end the run with nil when they drop.
package enum Relabeler {
    /// Runs `configs` over `labels`.
    /// - Parameters:
    ///   - labels: The input labels, in any order; names should be unique.
    ///   - configs: The steps.
    /// - Returns: The labels sorted by name with no empty values, or nil when a step dropped them.
    package static func apply(_ labels: [Label], _ configs: [RelabelConfig]) -> [Label]? {
        var builder = LabelBuilder(labels)
        for config in configs {
            guard apply(config, to: &builder) else { return nil }
        }
        return builder.sorted()
    }

    private static func apply(_ config: RelabelConfig, to builder: inout LabelBuilder) -> Bool {
        let value: String
        switch config.sourceLabels.count {
        case 0: value = ""
        case 1: value = builder[config.sourceLabels[0]]
        default: value = config.sourceLabels.map { builder[$0] }.joined(separator: config.separator)
        }
        let regex = config.compiledRegex
        switch config.action {
        case .drop:
            if regex.matches(value) { return false }
        case .keep:
            if !regex.matches(value) { return false }
        case .dropEqual:
            if builder[config.targetLabel] == value { return false }
        case .keepEqual:
            if builder[config.targetLabel] != value { return false }
        case .replace:
            // Fast path of Prometheus: with the default regex and no `$` anywhere, an empty value sets the label.
            if value.isEmpty && regex.pattern == RelabelConfig.defaultRegex && !config.targetLabel.contains("$")
                && !config.replacement.contains("$")
            {
                builder[config.targetLabel] = config.replacement
                break
            }
            guard let match = regex.match(value) else { break }
            let target = RelabelRegex.expand(config.targetLabel, match)
            guard PrometheusLabelName.isValid(target) else { break }
            builder[target] = RelabelRegex.expand(config.replacement, match)
        case .lowercase:
            builder[config.targetLabel] = value.lowercased()
        case .uppercase:
            builder[config.targetLabel] = value.uppercased()
        case .hashMod:
            let digest = MD5.digest(Array(value.utf8))
            var tail: UInt64 = 0
            for byte in digest[8..<16] { tail = tail << 8 | UInt64(byte) }
            builder[config.targetLabel] = String(config.modulus == 0 ? 0 : tail % config.modulus)
        case .labelMap:
            for label in builder.labels {
                guard let match = regex.match(label.name) else { continue }
                builder[RelabelRegex.expand(config.replacement, match)] = label.value
            }
        case .labelDrop:
            for label in builder.labels where regex.matches(label.name) { builder[label.name] = "" }
        case .labelKeep:
            for label in builder.labels where !regex.matches(label.name) { builder[label.name] = "" }
        }
        return true
    }
}

/// A mutable label set: get returns "" for a missing label, set to "" removes.
struct LabelBuilder {
    private(set) var labels: [Label]

    init(_ labels: [Label]) {
        self.labels = labels.filter { !$0.value.isEmpty }
    }

    subscript(name: String) -> String {
        get { labels.first(where: { $0.name == name })?.value ?? "" }
        set {
            if let index = labels.firstIndex(where: { $0.name == name }) {
                if newValue.isEmpty { labels.remove(at: index) } else { labels[index].value = newValue }
            } else if !newValue.isEmpty, !name.isEmpty {
                labels.append(Label(name, newValue))
            }
        }
    }

    func sorted() -> [Label] { labels.sorted { $0.name < $1.name } }
}
