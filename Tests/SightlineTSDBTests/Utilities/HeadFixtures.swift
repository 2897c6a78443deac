import SightlineCore

/// Shorthand for building head inputs in tests.
enum HeadFixtures {
    /// Labels from a metric name and pairs.
    static func labels(_ name: String, _ pairs: KeyValuePairs<String, String> = [:]) -> Labels {
        Labels([Label(Labels.metricName, name)] + pairs.map { Label($0.key, $0.value) })
    }

    /// A batch of samples of one series.
    static func batch(_ labels: Labels, _ samples: [(Int64, Double)]) -> MetricBatch {
        MetricBatch(samples: samples.map { MetricSample(labels: labels, timestampMs: $0.0, value: $0.1) })
    }

    /// A matcher that must compile.
    static func matcher(_ name: String, _ kind: LabelMatcher.Kind, _ value: String) throws -> LabelMatcher {
        try LabelMatcher(name, kind, value)
    }

    /// The samples of admission's batch (empty when it is not metrics).
    static func samples(of admission: Admission) -> [MetricSample] {
        batch(of: admission).samples
    }

    /// The metrics batch an admission passes on (with its series handles).
    static func batch(of admission: Admission) -> MetricBatch {
        if case .metrics(let batch) = admission.batch { return batch }
        return MetricBatch()
    }
}
