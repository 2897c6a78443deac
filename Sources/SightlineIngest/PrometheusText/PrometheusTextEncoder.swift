package import SightlineCore

/// Writes samples in the Prometheus text exposition format (version 0.0.4), which ``PrometheusTextParser`` reads back.
///
/// Samples are grouped by family (a family's `_bucket`, `_sum`, `_count`, `_total`, `_created` and `_info` series go
/// with it), in order of first appearance, each group after its `# HELP` and `# TYPE` lines. Names that are not
/// valid legacy Prometheus names are written in the quoted Prometheus 3 syntax. Staleness markers are written as `NaN`.
///
/// ```swift
/// let text = PrometheusTextEncoder.encode(batch.samples, metadata: batch.metadata)
/// ```
package enum PrometheusTextEncoder {
    private static let familySuffixes = ["_bucket", "_sum", "_count", "_total", "_created", "_info", "_gsum", "_gcount"]

    /// Encodes samples and metadata.
    /// - Parameters:
    ///   - samples: The samples; their order is kept within each family.
    ///   - metadata: Family metadata; families without samples still get their `# HELP` and `# TYPE` lines.
    ///   - includeTimestamps: Whether to write each sample's timestamp (milliseconds).
    /// - Returns: The exposition text, ending in a newline unless empty.
    package static func encode(_ samples: [MetricSample], metadata: [MetricMetadata], includeTimestamps: Bool = true) -> String {
        var metadataByFamily: [String: MetricMetadata] = [:]
        for entry in metadata { metadataByFamily[entry.metricFamily] = entry }
        var order: [String] = []
        var groups: [String: [MetricSample]] = [:]
        for sample in samples {
            let family = family(of: sample.labels.metricName, known: metadataByFamily)
            if groups[family] == nil {
                order.append(family)
                groups[family] = []
            }
            groups[family]?.append(sample)
        }
        for entry in metadata where groups[entry.metricFamily] == nil {
            order.append(entry.metricFamily)
            groups[entry.metricFamily] = []
        }
        var out = ""
        out.reserveCapacity(samples.count * 64)
        var written = Set<String>()
        for family in order where written.insert(family).inserted {
            if let entry = metadataByFamily[family] {
                let name = quotedIfNeeded(family, metric: true)
                if !entry.help.isEmpty { out += "# HELP \(name) \(escapeHelp(entry.help))\n" }
                out += "# TYPE \(name) \(typeName(entry.kind))\n"
                if !entry.unit.isEmpty { out += "# UNIT \(name) \(entry.unit)\n" }
            }
            for sample in groups[family] ?? [] {
                writeSample(sample, into: &out, includeTimestamp: includeTimestamps)
            }
        }
        return out
    }

    private static func family(of name: String, known: [String: MetricMetadata]) -> String {
        if known[name] != nil { return name }
        for suffix in familySuffixes where name.hasSuffix(suffix) {
            let stem = String(name.dropLast(suffix.count))
            if known[stem] != nil { return stem }
        }
        return name
    }

    /// The text format has no `info`, `stateset` or `gaugehistogram`; they are written as `untyped`, `gauge`, `histogram`.
    private static func typeName(_ kind: MetricMetadata.Kind) -> String {
        switch kind {
        case .unknown, .info: "untyped"
        case .counter: "counter"
        case .gauge, .stateSet: "gauge"
        case .histogram, .gaugeHistogram: "histogram"
        case .summary: "summary"
        }
    }

    private static func writeSample(_ sample: MetricSample, into out: inout String, includeTimestamp: Bool) {
        let name = sample.labels.metricName
        let others = sample.labels.labels.filter { $0.name != Labels.metricName }
        let legacyName = isLegacyName(name, metric: true)
        if legacyName { out += name }
        if !others.isEmpty || !legacyName {
            out += "{"
            var first = true
            if !legacyName {
                out += "\"\(PromText.escapeLabelValue(name))\""
                first = false
            }
            for label in others {
                if !first { out += "," }
                first = false
                out += quotedIfNeeded(label.name, metric: false)
                out += "=\""
                out += PromText.escapeLabelValue(label.value)
                out += "\""
            }
            out += "}"
        }
        out += " "
        out += PrometheusNumber.format(sample.value)
        if includeTimestamp {
            out += " "
            out += String(sample.timestampMs)
        }
        out += "\n"
    }

    private static func quotedIfNeeded(_ name: String, metric: Bool) -> String {
        isLegacyName(name, metric: metric) ? name : "\"\(PromText.escapeLabelValue(name))\""
    }

    /// Whether `name` matches `[a-zA-Z_:][a-zA-Z0-9_:]*` (metric) or `[a-zA-Z_][a-zA-Z0-9_]*` (label).
    package static func isLegacyName(_ name: String, metric: Bool) -> Bool {
        guard !name.isEmpty else { return false }
        var first = true
        for c in name.utf8 {
            let ok =
                (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || c == 0x5F || (metric && c == 0x3A)
                || (!first && c >= 0x30 && c <= 0x39)
            if !ok { return false }
            first = false
        }
        return true
    }

    private static func escapeHelp(_ help: String) -> String {
        var out = ""
        for c in help {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}
