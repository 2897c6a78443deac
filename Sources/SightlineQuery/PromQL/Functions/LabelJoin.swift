package import SightlineCore

/// `label_join(v, dst, separator, src…)`: validated once per call, then applied to each series.
///
/// The values of the source labels (an absent label reads as the empty string) are joined with the separator and
/// written to `dst`; an empty result removes `dst`.
package struct LabelJoin: Sendable {
    /// The destination label.
    package let destination: String
    /// The separator between values.
    package let separator: String
    /// The source labels, in order.
    package let sources: [String]

    /// Validates the arguments as Prometheus does, in the same order.
    ///
    /// - Throws: ``SightlineError`` `invalid source label name in label_join(): <src>` for the first invalid source,
    ///   then `invalid destination label name in label_join(): <dst>` for an invalid destination.
    package init(destination: String, separator: String, sources: [String]) throws(SightlineError) {
        for source in sources where !LabelName.isValid(source) {
            throw SightlineError(.invalidArgument, "invalid source label name in label_join(): \(source)")
        }
        guard LabelName.isValid(destination) else {
            throw SightlineError(.invalidArgument, "invalid destination label name in label_join(): \(destination)")
        }
        self.destination = destination
        self.separator = separator
        self.sources = sources
    }

    /// The labels with the joined value written to the destination.
    package func apply(to labels: Labels) -> Labels {
        let joined = sources.map { labels[$0] ?? "" }.joined(separator: separator)
        return LabelName.setting(destination, to: joined, in: labels)
    }

    /// Applies the join to a sample's labels. Writing `__name__` clears `dropName`; otherwise it is unchanged.
    package func apply(to sample: inout Sample) {
        sample.metric = apply(to: sample.metric)
        if destination == Labels.metricName { sample.dropName = false }
    }
}
