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

/// Samples and the metadata of their families, as one request carries them.
package struct MetricBatch: Hashable, Sendable {
    package var samples: [MetricSample]
    package var metadata: [MetricMetadata]
    /// The store's numbers for the samples' series, one per sample, as admission found them; nil when no store
    /// resolved the batch. Used only while they match `samples` one to one (``resolvedRefs``); batches compare and
    /// hash without them.
    package var seriesRefs: SeriesRefs?

    package init(samples: [MetricSample] = [], metadata: [MetricMetadata] = [], seriesRefs: SeriesRefs? = nil) {
        self.samples = samples
        self.metadata = metadata
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
        a.samples == b.samples && a.metadata == b.metadata
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(samples)
        hasher.combine(metadata)
    }
}
