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
    /// The store's handles of the samples' series, one per sample (nil for a series the store does not hold yet), as
    /// admission found them; empty when no store resolved the batch. Used only while they match `samples` one to one
    /// (``resolvedHandles``); batches compare and hash without them.
    package var seriesHandles: [SeriesHandle?]

    package init(samples: [MetricSample] = [], metadata: [MetricMetadata] = [], seriesHandles: [SeriesHandle?] = []) {
        self.samples = samples
        self.metadata = metadata
        self.seriesHandles = seriesHandles
    }

    /// The series handles when there is one per sample, else nil (a batch whose samples changed after admission).
    package var resolvedHandles: [SeriesHandle?]? {
        seriesHandles.count == samples.count && !samples.isEmpty ? seriesHandles : nil
    }

    /// Removes the samples `shouldRemove` picks, and their handles.
    package mutating func removeSamples(where shouldRemove: (MetricSample) -> Bool) {
        guard let handles = resolvedHandles else {
            samples.removeAll(where: shouldRemove)
            seriesHandles = []
            return
        }
        var keptSamples: [MetricSample] = []
        var keptHandles: [SeriesHandle?] = []
        keptSamples.reserveCapacity(samples.count)
        keptHandles.reserveCapacity(samples.count)
        for (sample, handle) in zip(samples, handles) where !shouldRemove(sample) {
            keptSamples.append(sample)
            keptHandles.append(handle)
        }
        samples = keptSamples
        seriesHandles = keptHandles
    }

    package static func == (a: MetricBatch, b: MetricBatch) -> Bool {
        a.samples == b.samples && a.metadata == b.metadata
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(samples)
        hasher.combine(metadata)
    }
}
