/// One sample of one series in the Prometheus model.
package struct MetricSample: Hashable, Sendable {
    package var labels: Labels
    /// Milliseconds since the epoch.
    package var timestampMs: Int64
    package var value: Double

    package init(labels: Labels, timestampMs: Int64, value: Double) {
        self.labels = labels
        self.timestampMs = timestampMs
        self.value = value
    }

    /// Samples compare their values by bit pattern, so NaN (and the staleness marker) equals itself.
    package static func == (lhs: MetricSample, rhs: MetricSample) -> Bool {
        lhs.labels == rhs.labels && lhs.timestampMs == rhs.timestampMs && lhs.value.bitPattern == rhs.value.bitPattern
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(labels)
        hasher.combine(timestampMs)
        hasher.combine(value.bitPattern)
    }
}

/// What is known about a metric family besides its samples.
package struct MetricMetadata: Hashable, Sendable {
    /// Metric types, named as in the Prometheus exposition format.
    package enum Kind: UInt8, Sendable, CustomStringConvertible {
        case unknown = 0, counter, gauge, histogram, gaugeHistogram, summary, info, stateSet

        package var description: String {
            switch self {
            case .unknown: "unknown"
            case .counter: "counter"
            case .gauge: "gauge"
            case .histogram: "histogram"
            case .gaugeHistogram: "gaugehistogram"
            case .summary: "summary"
            case .info: "info"
            case .stateSet: "stateset"
            }
        }
    }

    package var metricFamily: String
    package var kind: Kind
    package var help: String
    package var unit: String

    package init(metricFamily: String, kind: Kind, help: String = "", unit: String = "") {
        self.metricFamily = metricFamily
        self.kind = kind
        self.help = help
        self.unit = unit
    }
}

/// The samples of the series matching every matcher, from `startMs` through `endMs` (both included), to delete.
///
/// A deletion travels through the WAL as part of a ``MetricBatch``, so that it applies in order with the samples
/// around it: replaying the WAL deletes again what was written before it and keeps what came after.
package struct SeriesDeletion: Hashable, Sendable, CustomStringConvertible {
    package var matchers: [LabelMatcher]
    package var startMs: Int64
    package var endMs: Int64

    package init(matchers: [LabelMatcher], startMs: Int64 = .min, endMs: Int64 = .max) {
        self.matchers = matchers
        self.startMs = startMs
        self.endMs = endMs
    }

    /// Whether a series is one the deletion covers.
    package func covers(_ labels: Labels) -> Bool { matchers.allSatisfy { $0.matches(labels) } }

    package var description: String {
        "{\(matchers.map(\.description).joined(separator: ","))} from \(startMs) through \(endMs)"
    }
}

/// One observation picked to stand for the samples of a series around it, with labels of its own (usually the
/// `trace_id` and `span_id` of the request observed): what Prometheus calls an exemplar, and what links a metric to the
/// traces behind it.
package struct MetricExemplar: Hashable, Sendable {
    /// The labels of the series it belongs to (a histogram's `_bucket` series, a counter's `_total`).
    package var series: Labels
    /// Its own labels.
    package var labels: Labels
    /// Milliseconds since the epoch.
    package var timestampMs: Int64
    package var value: Double

    /// The most characters (Unicode scalars) of label names and values together an exemplar may carry, as OpenMetrics
    /// and Prometheus set it.
    package static let maxLabelSetLength = 128

    package init(series: Labels, labels: Labels, timestampMs: Int64, value: Double) {
        self.series = series
        self.labels = labels
        self.timestampMs = timestampMs
        self.value = value
    }

    /// The characters of its label names and values together, counted as ``maxLabelSetLength`` counts them.
    package var labelSetLength: Int { Self.labelSetLength(of: labels.labels) }

    /// The characters of the names and values of `labels` together (Unicode scalars, as Go counts runes).
    package static func labelSetLength(of labels: some Sequence<Label>) -> Int {
        labels.reduce(0) { $0 + $1.name.unicodeScalars.count + $1.value.unicodeScalars.count }
    }

    /// Exemplars compare their values by bit pattern, as samples do.
    package static func == (lhs: MetricExemplar, rhs: MetricExemplar) -> Bool {
        lhs.series == rhs.series && lhs.labels == rhs.labels && lhs.timestampMs == rhs.timestampMs
            && lhs.value.bitPattern == rhs.value.bitPattern
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(series)
        hasher.combine(labels)
        hasher.combine(timestampMs)
        hasher.combine(value.bitPattern)
    }
}

/// Samples, their exemplars and the metadata of their families, as one request carries them, and deletions of stored
/// samples.
package struct MetricBatch: Hashable, Sendable {
    package var samples: [MetricSample]
    package var metadata: [MetricMetadata]
    /// Exemplars of the batch's series (or of series with no sample in it). A store takes them or counts why not, but
    /// never refuses a request for them, as Prometheus does.
    package var exemplars: [MetricExemplar]
    /// Applied after the samples of the same batch (a batch holding deletions comes from the delete API alone).
    package var deletions: [SeriesDeletion]
    /// The store's numbers for the samples' series, one per sample, as admission found them; nil when no store
    /// resolved the batch. Used only while they match `samples` one to one (``resolvedRefs``); batches compare and
    /// hash without them.
    package var seriesRefs: SeriesRefs?

    package init(
        samples: [MetricSample] = [], metadata: [MetricMetadata] = [], exemplars: [MetricExemplar] = [], deletions: [SeriesDeletion] = [],
        seriesRefs: SeriesRefs? = nil
    ) {
        self.samples = samples
        self.metadata = metadata
        self.exemplars = exemplars
        self.deletions = deletions
        self.seriesRefs = seriesRefs
    }

    /// The series numbers when there is one per sample, else nil (a batch whose samples changed after admission).
    package var resolvedRefs: SeriesRefs? {
        guard let seriesRefs, seriesRefs.ids.count == samples.count, !samples.isEmpty else { return nil }
        return seriesRefs
    }

    /// Removes the samples `shouldRemove` picks, and their series numbers.
    package mutating func removeSamples(where shouldRemove: (MetricSample) -> Bool) {
        guard let refs = resolvedRefs else {
            samples.removeAll(where: shouldRemove)
            seriesRefs = nil
            return
        }
        var keptSamples: [MetricSample] = []
        var keptIDs: [UInt32] = []
        keptSamples.reserveCapacity(samples.count)
        keptIDs.reserveCapacity(samples.count)
        for (sample, id) in zip(samples, refs.ids) where !shouldRemove(sample) {
            keptSamples.append(sample)
            keptIDs.append(id)
        }
        samples = keptSamples
        seriesRefs = SeriesRefs(owner: refs.owner, ids: keptIDs)
    }

    package static func == (a: MetricBatch, b: MetricBatch) -> Bool {
        a.samples == b.samples && a.metadata == b.metadata && a.exemplars == b.exemplars && a.deletions == b.deletions
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(samples)
        hasher.combine(metadata)
        hasher.combine(exemplars)
        hasher.combine(deletions)
    }
}
