import SightlineCore

extension OTLPHistogramPoint {
    /// The classic series of the point, in order: `_sum` (when it has one), `_count`, then `_bucket` per bound with
    /// the cumulative count and `le="+Inf"` last (its bound infinity) — what OTLP histograms and native histograms
    /// both become.
    var classicSeries: [(suffix: String, le: String?, bound: Double, value: Double)] {
        var out: [(suffix: String, le: String?, bound: Double, value: Double)] = []
        if let sum { out.append(("_sum", nil, 0, sum)) }
        out.append(("_count", nil, 0, Double(count)))
        var cumulative: UInt64 = 0
        for (bound, bucket) in zip(explicitBounds, bucketCounts) {
            cumulative &+= bucket
            out.append(("_bucket", PrometheusNaming.formatFloat(bound), bound, Double(cumulative)))
        }
        out.append(("_bucket", "+Inf", .infinity, Double(count)))
        return out
    }
}

/// A Prometheus native histogram sample as remote write 1.0 and 2.0 carry it (`Histogram`: `count_int = 1` /
/// `count_float = 2`, `sum = 3`, `schema = 4` (sint32), `zero_threshold = 5`, `zero_count_int = 6` /
/// `zero_count_float = 7`, `negative_spans = 8` / `positive_spans = 11` (`BucketSpan`: `offset = 1` sint32,
/// `length = 2`), `negative_deltas = 9` / `positive_deltas = 12` (packed sint64, each count the previous one plus the
/// delta), `negative_counts = 10` / `positive_counts = 13` (packed doubles, float histograms), `timestamp = 15`,
/// `custom_values = 16` (the bounds of schema -53)).
///
/// The store has no native histograms: like an OTLP exponential histogram (``OTLPExponentialHistogramPoint``), a
/// sample becomes the classic `_bucket{le}`, `_count` and `_sum` series of its metric, with the same bucket bounds
/// (so `histogram_quantile` over `rate(…_bucket[…])` works as over classic histograms). Positive bucket `i` of
/// schema `s` holds `(base^(i-1), base^i]` with `base = 2^(2^-s)`; float counts are rounded to whole ones. Schema
/// -53 (custom buckets) takes its bounds from `custom_values`.
struct NativeHistogramSample {
    var count: Double = 0
    var sum: Double = 0
    var schema: Int32 = 0
    var zeroThreshold: Double = 0
    var zeroCount: Double = 0
    var negative = Side()
    var positive = Side()
    var timestampMs: Int64 = 0
    var customValues: [Double] = []

    /// Spans and their counts (absolute, decoded from deltas for integer histograms).
    struct Side {
        var spans: [(offset: Int32, length: UInt32)] = []
        var deltas: [Int64] = []
        var counts: [Double] = []

        /// The buckets with their index: spans laid out one after another, each offset a gap from the previous end.
        func buckets() throws -> [(index: Int, count: Double)] {
            var values = counts
            if values.isEmpty {
                var running: Int64 = 0
                values = deltas.map { delta in
                    running &+= delta
                    return Double(running)
                }
            }
            var out: [(index: Int, count: Double)] = []
            var index = 0
            var position = 0
            for span in spans {
                index += Int(span.offset)
                for _ in 0..<Int(span.length) {
                    guard position < values.count else {
                        throw FieldPathError("the spans hold more buckets than the \(values.count) counts")
                    }
                    out.append((index, values[position]))
                    index += 1
                    position += 1
                }
            }
            guard position == values.count else { throw FieldPathError("\(values.count) counts for \(position) buckets of the spans") }
            return out
        }
    }

    static let customBucketsSchema: Int32 = -53

    /// Decodes one `Histogram` message.
    /// - Throws: ``FieldPathError`` when it is malformed.
    static func decode(_ buffer: UnsafeRawBufferPointer) throws -> NativeHistogramSample {
        var sample = NativeHistogramSample()
        var r = ProtobufReader(buffer)
        func span(_ r: inout ProtobufReader) throws -> (offset: Int32, length: UInt32) {
            var span: (offset: Int32, length: UInt32) = (0, 0)
            while let field = try r.nextField() {
                switch field {
                case 1: span.offset = try r.readSInt32("offset")
                case 2: span.length = try r.readUInt32("length")
                default: try r.skipField()
                }
            }
            return span
        }
        while let field = try r.nextField() {
            switch field {
            case 1: sample.count = Double(try r.readVarint("count_int"))
            case 2: sample.count = try r.readDouble("count_float")
            case 3: sample.sum = try r.readDouble("sum")
            case 4: sample.schema = try r.readSInt32("schema")
            case 5: sample.zeroThreshold = try r.readDouble("zero_threshold")
            case 6: sample.zeroCount = Double(try r.readVarint("zero_count_int"))
            case 7: sample.zeroCount = try r.readDouble("zero_count_float")
            case 8: sample.negative.spans.append(try r.readMessage("negative_spans", index: sample.negative.spans.count) { try span(&$0) })
            case 9: try r.appendSInt64s("negative_deltas", to: &sample.negative.deltas)
            case 10: try r.appendDoubles("negative_counts", to: &sample.negative.counts)
            case 11: sample.positive.spans.append(try r.readMessage("positive_spans", index: sample.positive.spans.count) { try span(&$0) })
            case 12: try r.appendSInt64s("positive_deltas", to: &sample.positive.deltas)
            case 13: try r.appendDoubles("positive_counts", to: &sample.positive.counts)
            case 15: sample.timestampMs = Int64(bitPattern: try r.readVarint("timestamp"))
            case 16: try r.appendDoubles("custom_values", to: &sample.customValues)
            default: try r.skipField()
            }
        }
        return sample
    }

    /// The classic samples of the histogram of metric `series` (its labels, with `__name__`), or why it cannot be
    /// converted. A staleness marker (the sum's bits) marks `_count`, `_sum` and `_bucket{le="+Inf"}` stale.
    func classicSamples(of series: Labels) -> Result<[MetricSample], FieldPathError> {
        let name = series.metricName
        let base = series.labels.filter { $0.name != Labels.metricName }
        func sample(_ suffix: String, le: String?, _ value: Double) -> MetricSample {
            var labels = base
            labels.append(Label(Labels.metricName, name + suffix))
            if let le { labels.append(Label("le", le)) }
            return MetricSample(labels: Labels(labels), timestampMs: timestampMs, value: value)
        }
        if StaleNaN.isStale(sum) {
            return .success([sample("_sum", le: nil, sum), sample("_count", le: nil, sum), sample("_bucket", le: "+Inf", sum)])
        }
        let point: OTLPHistogramPoint
        do {
            let positive = try self.positive.buckets()
            if schema == Self.customBucketsSchema {
                guard negative.spans.isEmpty else { throw FieldPathError("a custom-buckets histogram has negative buckets") }
                var counts = [UInt64](repeating: 0, count: customValues.count + 1)
                for (index, count) in positive {
                    guard index >= 0, index <= customValues.count else {
                        throw FieldPathError("bucket \(index) is beyond the \(customValues.count) custom bounds")
                    }
                    counts[index] &+= Self.whole(count)
                }
                point = OTLPHistogramPoint(
                    count: Self.whole(count), sum: sum, bucketCounts: counts, explicitBounds: customValues)
            } else {
                guard (-4...8).contains(schema) else { throw FieldPathError("schema \(schema) is outside -4...8 (and -53)") }
                func buckets(_ side: [(index: Int, count: Double)]) -> OTLPExponentialHistogramPoint.Buckets {
                    // Exponential bucket j holds (base^j, base^(j+1)]: Prometheus' bucket i is OpenTelemetry's i - 1.
                    guard let first = side.first?.index, let last = side.last?.index else { return .init() }
                    var counts = [UInt64](repeating: 0, count: last - first + 1)
                    for (index, count) in side { counts[index - first] &+= Self.whole(count) }
                    return .init(offset: Int32(first - 1), counts: counts)
                }
                let exponential = OTLPExponentialHistogramPoint(
                    count: Self.whole(count), sum: sum, scale: schema, zeroCount: Self.whole(zeroCount), zeroThreshold: zeroThreshold,
                    positive: buckets(positive), negative: buckets(try self.negative.buckets()))
                point = exponential.explicit
            }
        } catch let error as FieldPathError {
            return .failure(error)
        } catch {
            return .failure(FieldPathError("\(error)"))
        }
        return .success(point.classicSeries.map { sample($0.suffix, le: $0.le, $0.value) })
    }

    private static func whole(_ count: Double) -> UInt64 {
        count.isFinite && count > 0 ? UInt64(count.rounded()) : 0
    }
}
