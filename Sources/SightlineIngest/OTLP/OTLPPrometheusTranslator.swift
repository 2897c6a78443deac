import SightlineCore

/// Translates decoded OTLP metrics into Prometheus samples and metadata, as Prometheus's OTLP receiver does.
///
/// - Names: ``PrometheusNaming/metricName(_:unit:type:)``; labels: ``PrometheusNaming/labelName(_:)``, with values of
///   attributes whose names collide joined by `;` in key order.
/// - `job` is `service.namespace/service.name` (or `service.name`), `instance` is `service.instance.id`; the resource
///   attributes named in ``OTLPDecoder/OTLPTranslation/promoteResourceAttributes`` become labels of every series of
///   the resource, unless a data point attribute gives the label already.
/// - Gauges and non-monotonic cumulative sums become gauges; monotonic cumulative sums counters (`_total`);
///   histograms `_bucket{le}` (cumulative), `_sum`, `_count`; summaries `{quantile}`, `_sum`, `_count`.
/// - Cumulative exponential histograms become classic ones (``OTLPExponentialHistogramPoint/explicit``).
/// - Delta sums, histograms and exponential histograms become the same series with running totals when an
///   ``OTLPDeltaAccumulator`` is given (and are rejected per data point without one); unspecified temporality is
///   rejected.
/// - A point flagged `NO_RECORDED_VALUE` becomes the staleness marker.
/// - Exemplars go with the point's series (a histogram's with the first `_bucket` whose bound holds the value), labelled
///   `trace_id` and `span_id` in hex, plus their filtered attributes unless those would make the labels longer than
///   ``MetricExemplar/maxLabelSetLength``.
/// - `target_info` (value 1) carries the other resource attributes, at the resource's first data point's time.
struct OTLPPrometheusTranslator {
    /// The staleness marker Prometheus writes for a series that ended.
    static let staleNaN = StaleNaN.value

    private var samples: [MetricSample] = []
    private var metadata: [MetricMetadata] = []
    private var exemplars: [MetricExemplar] = []
    private var families: Set<String> = []
    private var tally = RejectionTally()
    /// The running totals delta points go into; nil rejects them.
    private let deltas: OTLPDeltaAccumulator?
    /// The tenant whose totals they are.
    private let tenant: String
    /// The places in `samples` of the samples made from delta points, ascending.
    private var deltaSamples: [Int] = []

    private var takesDeltas: Bool { deltas != nil }

    private let translation: OTLPDecoder.OTLPTranslation

    private init(deltas: OTLPDeltaAccumulator?, tenant: String, translation: OTLPDecoder.OTLPTranslation) {
        self.deltas = deltas
        self.tenant = tenant
        self.translation = translation
    }

    /// Translates `request` into a metrics batch with its rejections; delta points go through `deltas` into the
    /// running totals of `tenant`'s series, or are rejected when it is nil.
    static func translate(
        _ request: OTLPMetricsRequest, deltas: OTLPDeltaAccumulator? = nil, tenant: String = "",
        translation: OTLPDecoder.OTLPTranslation = OTLPDecoder.OTLPTranslation()
    ) -> DecodedBatch {
        var translator = OTLPPrometheusTranslator(deltas: deltas, tenant: tenant, translation: translation)
        for resource in request.resourceMetrics { translator.add(resource) }
        if let deltas {
            for message in deltas.accumulate(tenant: tenant, samples: &translator.samples, deltas: translator.deltaSamples) {
                translator.tally.reject(1, message)
            }
        }
        return DecodedBatch(
            .metrics(MetricBatch(samples: translator.samples, metadata: translator.metadata, exemplars: translator.exemplars)),
            rejected: translator.tally.count, rejectionMessage: translator.tally.message)
    }

    /// The labels every series of a resource gets: `job`, `instance` and the promoted attributes.
    private struct ResourceLabels {
        var job = ""
        var instance = ""
        var promoted: [Label] = []

        init(_ resource: [Attribute], promote: [String] = [], escaping: Bool = true) {
            for key in promote {
                let name = PrometheusNaming.labelName(key, escaping: escaping)
                if !name.isEmpty, let value = resource[key: key]?.text, !value.isEmpty { promoted.append(Label(name, value)) }
            }
            let name = resource[key: "service.name"]?.text
            let namespace = resource[key: "service.namespace"]?.text
            if let name {
                job = namespace.map { "\($0)/\(name)" } ?? name
            }
            instance = resource[key: "service.instance.id"]?.text ?? ""
        }
    }

    private mutating func add(_ resourceMetrics: OTLPResourceMetrics) {
        let resourceLabels = ResourceLabels(
            resourceMetrics.resource, promote: translation.promoteResourceAttributes, escaping: translation.strategy.escapes)
        var firstTimestamp: Int64?
        for metric in resourceMetrics.metrics {
            let first = add(metric, resourceLabels)
            if firstTimestamp == nil { firstTimestamp = first }
        }
        if let firstTimestamp { addTargetInfo(resourceMetrics.resource, resourceLabels, timestampMs: firstTimestamp) }
    }

    /// Adds the samples of one metric.
    /// - Returns: The timestamp of its first accepted data point.
    private mutating func add(_ metric: OTLPMetric, _ resourceLabels: ResourceLabels) -> Int64? {
        let description = "metric \"\(metric.name)\""
        func name(_ type: PrometheusNaming.MetricType) -> String? {
            let name = PrometheusNaming.metricName(metric.name, unit: metric.unit, type: type, strategy: translation.strategy)
            return name.isEmpty ? nil : name
        }
        /// Whether points of `temporality` are translated; marks what the points add as deltas.
        func checkTemporality(_ temporality: Int32, count: Int) -> Bool {
            switch temporality {
            case OTLPTemporality.cumulative: return true
            case OTLPTemporality.delta where takesDeltas: return true
            case OTLPTemporality.delta:
                tally.reject(count, "\(description): delta temporality is not supported; use cumulative")
            default:
                tally.reject(count, "\(description): aggregation temporality \(temporality) is not supported; use cumulative")
            }
            return false
        }
        switch metric.data {
        case .none:
            return nil
        case .gauge(let points):
            guard let family = name(.gauge) else { return rejectName(metric, count: points.count) }
            addMetadata(family, .gauge, metric)
            return addNumberPoints(points, family, resourceLabels)
        case .sum(let points, let temporality, let isMonotonic):
            guard checkTemporality(temporality, count: points.count) else { return nil }
            guard let family = name(isMonotonic ? .monotonicCounter : .nonMonotonicCounter) else {
                return rejectName(metric, count: points.count)
            }
            addMetadata(family, isMonotonic ? .counter : .gauge, metric)
            return markingDeltas(temporality) { $0.addNumberPoints(points, family, resourceLabels) }
        case .histogram(let points, let temporality):
            guard checkTemporality(temporality, count: points.count) else { return nil }
            guard let family = name(.histogram) else { return rejectName(metric, count: points.count) }
            addMetadata(family, .histogram, metric)
            return markingDeltas(temporality) { $0.addHistogramPoints(points, family, resourceLabels) }
        case .exponentialHistogram(let points, let temporality):
            guard checkTemporality(temporality, count: points.count) else { return nil }
            guard let family = name(.histogram) else { return rejectName(metric, count: points.count) }
            addMetadata(family, .histogram, metric)
            var explicit: [OTLPHistogramPoint] = []
            explicit.reserveCapacity(points.count)
            for point in points {
                guard OTLPExponentialHistogramPoint.validScales.contains(point.scale) else {
                    tally.reject(1, "\(description): scale \(point.scale) is outside \(OTLPExponentialHistogramPoint.validScales)")
                    continue
                }
                guard temporality == OTLPTemporality.delta, let deltas else {
                    explicit.append(point.explicit)
                    continue
                }
                // Running totals of the exponential buckets, not of the `le` series: the bounds a delta point makes
                // depend on which buckets it fills.
                var labels = baseLabels(point.attributes, resourceLabels)
                labels.append(Label(Labels.metricName, family + "_count"))
                switch deltas.accumulate(tenant: tenant, labels: Labels(labels), exponential: point) {
                case .total(let total):
                    var converted = total.explicit
                    converted.exemplars = point.exemplars
                    explicit.append(converted)
                case .refused(let message): tally.reject(1, message)
                }
            }
            return addHistogramPoints(explicit, family, resourceLabels)
        case .summary(let points):
            guard let family = name(.summary) else { return rejectName(metric, count: points.count) }
            addMetadata(family, .summary, metric)
            return addSummaryPoints(points, family, resourceLabels)
        }
    }

    /// Runs `add`, marking the samples it appends as deltas when `temporality` is delta.
    private mutating func markingDeltas(_ temporality: Int32, _ add: (inout Self) -> Int64?) -> Int64? {
        let start = samples.count
        let first = add(&self)
        if temporality == OTLPTemporality.delta { deltaSamples.append(contentsOf: start..<samples.count) }
        return first
    }

    private mutating func rejectName(_ metric: OTLPMetric, count: Int) -> Int64? {
        tally.reject(count, "metric \"\(metric.name)\": name has no valid characters")
        return nil
    }

    private mutating func addMetadata(_ family: String, _ kind: MetricMetadata.Kind, _ metric: OTLPMetric) {
        guard families.insert(family).inserted else { return }
        metadata.append(MetricMetadata(metricFamily: family, kind: kind, help: metric.description, unit: metric.unit))
    }

    // MARK: Data points

    private static func timestampMs(_ timeUnixNano: UInt64) -> Int64 { Int64(timeUnixNano / 1_000_000) }

    private static func value(_ value: Double, flags: UInt32) -> Double {
        flags & otlpNoRecordedValueFlag != 0 ? staleNaN : value
    }

    /// The labels of a data point's attributes plus `job` and `instance`, before `__name__` and `le`/`quantile`.
    private func baseLabels(_ attributes: [Attribute], _ resourceLabels: ResourceLabels) -> [Label] {
        var labels: [Label] = []
        labels.reserveCapacity(attributes.count + 4)
        // Sort by key so values of colliding names are joined in a stable order, as Prometheus does.
        let sorted = attributes.count > 1 ? attributes.sorted { $0.key < $1.key } : attributes
        for attribute in sorted {
            let name = PrometheusNaming.labelName(attribute.key, escaping: translation.strategy.escapes)
            guard !name.isEmpty, name != "job" || resourceLabels.job.isEmpty,
                name != "instance" || resourceLabels.instance.isEmpty
            else { continue }
            let value = attribute.value.text
            if let index = labels.firstIndex(where: { $0.name == name }) {
                labels[index].value += ";" + value
            } else {
                labels.append(Label(name, value))
            }
        }
        for label in resourceLabels.promoted where !labels.contains(where: { $0.name == label.name }) {
            guard label.name != "job" || resourceLabels.job.isEmpty, label.name != "instance" || resourceLabels.instance.isEmpty else { continue }
            labels.append(label)
        }
        if !resourceLabels.job.isEmpty { labels.append(Label("job", resourceLabels.job)) }
        if !resourceLabels.instance.isEmpty { labels.append(Label("instance", resourceLabels.instance)) }
        return labels
    }

    /// Appends a sample; returns its series.
    @discardableResult
    private mutating func append(_ base: [Label], name: String, extra: Label? = nil, timestampMs: Int64, value: Double) -> Labels {
        var labels = base
        if let extra { labels.append(extra) }
        labels.append(Label(Labels.metricName, name))
        let series = Labels(labels)
        samples.append(MetricSample(labels: series, timestampMs: timestampMs, value: value))
        return series
    }

    /// Appends a point's exemplars, each to the series `pick` chooses for its value.
    private mutating func addExemplars(_ pointExemplars: [OTLPExemplar], to pick: (Double) -> Labels) {
        for exemplar in pointExemplars {
            exemplars.append(
                MetricExemplar(
                    series: pick(exemplar.value), labels: Self.exemplarLabels(exemplar), timestampMs: Self.timestampMs(exemplar.timeUnixNano),
                    value: exemplar.value))
        }
    }

    /// `trace_id` and `span_id` in hex (when not all zero), then the filtered attributes as they are, unless they would
    /// make the labels longer than ``MetricExemplar/maxLabelSetLength``.
    private static func exemplarLabels(_ exemplar: OTLPExemplar) -> Labels {
        var labels: [Label] = []
        for (name, id) in [("trace_id", exemplar.traceID), ("span_id", exemplar.spanID)] where id.contains(where: { $0 != 0 }) {
            labels.append(Label(name, Hex.encode(id)))
        }
        let attributes = exemplar.attributes.map { Label($0.key, $0.value.text) }
        if MetricExemplar.labelSetLength(of: labels + attributes) <= MetricExemplar.maxLabelSetLength { labels += attributes }
        return Labels(labels)
    }

    private mutating func addNumberPoints(
        _ points: [OTLPNumberPoint], _ family: String, _ resourceLabels: ResourceLabels
    ) -> Int64? {
        for point in points {
            let series = append(
                baseLabels(point.attributes, resourceLabels), name: family,
                timestampMs: Self.timestampMs(point.timeUnixNano), value: Self.value(point.value, flags: point.flags))
            addExemplars(point.exemplars) { _ in series }
        }
        return points.first.map { Self.timestampMs($0.timeUnixNano) }
    }

    private mutating func addHistogramPoints(
        _ points: [OTLPHistogramPoint], _ family: String, _ resourceLabels: ResourceLabels
    ) -> Int64? {
        for point in points {
            let base = baseLabels(point.attributes, resourceLabels)
            let time = Self.timestampMs(point.timeUnixNano)
            var buckets: [(bound: Double, series: Labels)] = []
            for entry in point.classicSeries {
                let series = append(
                    base, name: family + entry.suffix, extra: entry.le.map { Label("le", $0) }, timestampMs: time,
                    value: Self.value(entry.value, flags: point.flags))
                if entry.le != nil { buckets.append((entry.bound, series)) }
            }
            addExemplars(point.exemplars) { value in buckets.first { value <= $0.bound }!.series }
        }
        return points.first.map { Self.timestampMs($0.timeUnixNano) }
    }

    private mutating func addSummaryPoints(
        _ points: [OTLPSummaryPoint], _ family: String, _ resourceLabels: ResourceLabels
    ) -> Int64? {
        for point in points {
            let base = baseLabels(point.attributes, resourceLabels)
            let time = Self.timestampMs(point.timeUnixNano)
            append(base, name: family + "_sum", timestampMs: time, value: Self.value(point.sum, flags: point.flags))
            append(base, name: family + "_count", timestampMs: time, value: Self.value(Double(point.count), flags: point.flags))
            for quantile in point.quantiles {
                append(
                    base, name: family, extra: Label("quantile", PrometheusNaming.formatFloat(quantile.quantile)), timestampMs: time,
                    value: Self.value(quantile.value, flags: point.flags))
            }
        }
        return points.first.map { Self.timestampMs($0.timeUnixNano) }
    }

    // MARK: target_info

    private static let identifyingAttributes: Set<String> = ["service.name", "service.namespace", "service.instance.id"]

    /// Adds `target_info` when the resource has attributes besides the identifying ones (or at all, when those are
    /// kept) and a job or instance.
    private mutating func addTargetInfo(_ resource: [Attribute], _ resourceLabels: ResourceLabels, timestampMs: Int64) {
        let others = translation.keepIdentifyingResourceAttributes ? resource : resource.filter { !Self.identifyingAttributes.contains($0.key) }
        guard !others.isEmpty, !resourceLabels.job.isEmpty || !resourceLabels.instance.isEmpty else { return }
        append(baseLabels(others, resourceLabels), name: "target_info", timestampMs: timestampMs, value: 1)
        if families.insert("target_info").inserted {
            metadata.append(MetricMetadata(metricFamily: "target_info", kind: .gauge, help: "Target metadata"))
        }
    }
}
