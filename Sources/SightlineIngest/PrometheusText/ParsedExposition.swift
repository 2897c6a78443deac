package import SightlineCore

/// What one Prometheus text or OpenMetrics exposition holds: its samples and the metadata of its families.
package struct ParsedExposition: Sendable {
    /// The samples in the order of the exposition, each labelled with `__name__`, its own labels and the extra labels.
    package var samples: [MetricSample]
    /// One entry per family that has a `# TYPE`, `# HELP` or `# UNIT` line, in order of first appearance.
    package var metadata: [MetricMetadata]
    /// Indices into ``samples`` of the samples whose timestamp came from the exposition (only when timestamps are
    /// honored). A scraper leaves these out of staleness tracking, as Prometheus does.
    package var explicitTimestampIndices: [Int]
    /// OpenMetrics exemplars, each with the index in ``samples`` of the sample it came with (its series).
    package var exemplars: [(sample: Int, exemplar: MetricExemplar)]
    /// Whether the exposition was read as OpenMetrics (float-second timestamps, `# EOF` terminator).
    package var isOpenMetrics: Bool

    package init(
        samples: [MetricSample] = [], metadata: [MetricMetadata] = [], explicitTimestampIndices: [Int] = [],
        exemplars: [(sample: Int, exemplar: MetricExemplar)] = [], isOpenMetrics: Bool = false
    ) {
        self.samples = samples
        self.metadata = metadata
        self.explicitTimestampIndices = explicitTimestampIndices
        self.exemplars = exemplars
        self.isOpenMetrics = isOpenMetrics
    }
}
