package import SightlineCore
package import SightlineIngest

/// Turns one scrape's outcome into the batch to store, with Prometheus semantics; no I/O.
///
/// - Target labels are attached to every sample: with `honor_labels` the scraped value wins, otherwise the target's
///   value wins and the scraped one moves to `exported_<name>` (`exported_exported_<name>` if that is taken too).
/// - `metric_relabel_configs` run on every sample; dropped samples are counted. An exemplar goes with its sample: into
///   the sample's stored series, or away with it.
/// - Staleness: series of the previous successful scrape that are missing now get a ``StaleNaN`` sample at the scrape
///   time; a failed scrape marks every previous series stale. Series whose timestamps come from the target are not
///   tracked, as in Prometheus.
/// - Report series `up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
///   `scrape_samples_post_metric_relabeling` and `scrape_series_added`, with the target labels.
///
/// The caller stores ``Outcome/batch`` and then calls ``commit(_:)`` so a batch the sink rejected does not count as
/// seen.
package struct ScrapeBatchBuilder: Sendable {
    /// A batch and the series set the next scrape compares against.
    package struct Outcome: Sendable {
        /// What to store.
        package var batch: MetricBatch
        /// The tracked series after this scrape.
        package var series: Set<Labels>
        /// Samples in the exposition.
        package var scraped: Int
        /// Samples kept after metric relabeling.
        package var postRelabeling: Int
        /// Stale markers written.
        package var staleMarkers: Int
    }

    /// Names of the report series.
    package static let reportNames = [
        "up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added",
    ]

    private let targetLabels: [Label]
    private let honorLabels: Bool
    private let metricRelabelConfigs: [RelabelConfig]
    private let sampleLimit: Int
    /// The tracked series of the last committed scrape.
    package private(set) var previousSeries: Set<Labels> = []

    /// Creates a builder for one target.
    package init(target: ScrapeTarget) {
        self.targetLabels = target.labels
        self.honorLabels = target.config.honorLabels
        self.metricRelabelConfigs = target.config.metricRelabelConfigs
        self.sampleLimit = target.config.sampleLimit
    }

    /// The batch of a successful scrape.
    /// - Parameters:
    ///   - exposition: What the target returned, parsed with the scrape time as default timestamp.
    ///   - timestampMs: The scrape time.
    ///   - durationSeconds: How long the scrape took.
    /// - Returns: The outcome, or an error when `sample_limit` is exceeded (then call ``failure(timestampMs:durationSeconds:)``).
    package func success(_ exposition: ParsedExposition, timestampMs: Int64, durationSeconds: Double) throws -> Outcome {
        var samples: [MetricSample] = []
        samples.reserveCapacity(exposition.samples.count + previousSeries.count / 8 + 5)
        var current = Set<Labels>(minimumCapacity: max(previousSeries.count, exposition.samples.count))
        var explicit = exposition.explicitTimestampIndices.makeIterator()
        var nextExplicit = explicit.next()
        var exemplars: [MetricExemplar] = []
        var pendingExemplars = exposition.exemplars[...]
        for (index, sample) in exposition.samples.enumerated() {
            let hasExplicitTimestamp = nextExplicit == index
            if hasExplicitTimestamp { nextExplicit = explicit.next() }
            while let first = pendingExemplars.first, first.sample < index { pendingExemplars.removeFirst() }
            guard let labels = sampleLabels(sample.labels), !labels.metricName.isEmpty else { continue }
            // A second sample of the same series in one scrape is dropped, as Prometheus rejects it.
            guard hasExplicitTimestamp || current.insert(labels).inserted else { continue }
            samples.append(MetricSample(labels: labels, timestampMs: sample.timestampMs, value: sample.value))
            while let first = pendingExemplars.first, first.sample == index {
                var exemplar = pendingExemplars.removeFirst().exemplar
                exemplar.series = labels
                exemplars.append(exemplar)
            }
        }
        let kept = samples.count
        if sampleLimit > 0 && kept > sampleLimit {
            throw SightlineError(.tooLarge, "sample_limit exceeded: \(kept) samples after relabeling, limit \(sampleLimit)")
        }
        var added = 0
        for labels in current where !previousSeries.contains(labels) { added += 1 }
        var stale = 0
        for labels in previousSeries where !current.contains(labels) {
            samples.append(MetricSample(labels: labels, timestampMs: timestampMs, value: StaleNaN.value))
            stale += 1
        }
        appendReport(
            into: &samples, timestampMs: timestampMs,
            values: [1, durationSeconds, Double(exposition.samples.count), Double(kept), Double(added)])
        return Outcome(
            batch: MetricBatch(samples: samples, metadata: exposition.metadata, exemplars: exemplars), series: current,
            scraped: exposition.samples.count, postRelabeling: kept, staleMarkers: stale)
    }

    /// The batch of a failed scrape: `up` 0 and a stale marker for every series of the previous scrape.
    package func failure(timestampMs: Int64, durationSeconds: Double) -> Outcome {
        var samples = previousSeries.map { MetricSample(labels: $0, timestampMs: timestampMs, value: StaleNaN.value) }
        appendReport(into: &samples, timestampMs: timestampMs, values: [0, durationSeconds, 0, 0, 0])
        return Outcome(batch: MetricBatch(samples: samples), series: [], scraped: 0, postRelabeling: 0, staleMarkers: previousSeries.count)
    }

    /// The batch written when the loop ends for good (target removed): stale markers for every series, report
    /// series included.
    package func endOfRun(timestampMs: Int64) -> Outcome {
        var samples = previousSeries.map { MetricSample(labels: $0, timestampMs: timestampMs, value: StaleNaN.value) }
        for name in Self.reportNames {
            samples.append(MetricSample(labels: reportLabels(name), timestampMs: timestampMs, value: StaleNaN.value))
        }
        return Outcome(batch: MetricBatch(samples: samples), series: [], scraped: 0, postRelabeling: 0, staleMarkers: samples.count)
    }

    /// Records that an outcome's batch was stored.
    package mutating func commit(_ outcome: Outcome) {
        previousSeries = outcome.series
    }

    /// The stored labels of a scraped sample: target labels merged, then metric relabeling; nil when dropped.
    package func sampleLabels(_ scraped: Labels) -> Labels? {
        var builder = LabelBuilder(scraped.labels)
        if honorLabels {
            for label in targetLabels where builder[label.name].isEmpty { builder[label.name] = label.value }
        } else {
            var conflicts: [Label] = []
            for label in targetLabels {
                let existing = builder[label.name]
                if !existing.isEmpty { conflicts.append(Label(label.name, existing)) }
                builder[label.name] = label.value
            }
            if !conflicts.isEmpty {
                // Shorter names first, as Prometheus resolves them.
                let ordered = conflicts.enumerated().sorted {
                    ($0.element.name.utf8.count, $0.offset) < ($1.element.name.utf8.count, $1.offset)
                }
                for (_, label) in ordered {
                    var name = label.name
                    repeat { name = "exported_" + name } while !builder[name].isEmpty
                    builder[name] = label.value
                }
            }
        }
        if metricRelabelConfigs.isEmpty { return Labels(builder.labels) }
        guard let relabeled = Relabeler.apply(builder.labels, metricRelabelConfigs) else { return nil }
        return Labels(relabeled)
    }

    private func reportLabels(_ name: String) -> Labels {
        Labels(targetLabels.filter { $0.name != Labels.metricName } + [Label(Labels.metricName, name)])
    }

    private func appendReport(into samples: inout [MetricSample], timestampMs: Int64, values: [Double]) {
        for (name, value) in zip(Self.reportNames, values) {
            samples.append(MetricSample(labels: reportLabels(name), timestampMs: timestampMs, value: value))
        }
    }
}
