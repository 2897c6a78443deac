import SightlineCore

extension OTLPJSONDecoder {
    /// Decodes an OTLP/JSON `ExportMetricsServiceRequest` into the intermediate model.
    static func decodeMetrics(_ buffer: UnsafeRawBufferPointer) throws -> OTLPMetricsRequest {
        let root = try self.root(buffer)
        var request = OTLPMetricsRequest()
        try forEach(root, "resourceMetrics", "resource_metrics") { resourceMetrics, _ in
            var result = OTLPResourceMetrics(resource: try resource(resourceMetrics))
            try forEach(resourceMetrics, "scopeMetrics", "scope_metrics") { scopeMetrics, _ in
                try forEach(scopeMetrics, "metrics") { metric, _ in result.metrics.append(try self.metric(metric)) }
            }
            request.resourceMetrics.append(result)
        }
        return request
    }

    private static func metric(_ object: JSONObject) throws -> OTLPMetric {
        var metric = OTLPMetric(
            name: try string(object, "name"), description: try string(object, "description"), unit: try string(object, "unit"))
        if let points = try decode(object, "gauge", nil, { try numberPoints(try self.object($0)) }) {
            metric.data = .gauge(points)
        }
        if let data = try decode(object, "sum", nil, { value -> OTLPMetric.Data in
            let sum = try self.object(value)
            return .sum(
                try numberPoints(sum), temporality: try temporality(sum),
                isMonotonic: try bool(sum, "isMonotonic", "is_monotonic"))
        }) {
            metric.data = data
        }
        if let data = try decode(object, "histogram", nil, { value -> OTLPMetric.Data in
            let histogram = try self.object(value)
            var points: [OTLPHistogramPoint] = []
            try forEach(histogram, "dataPoints", "data_points") { point, _ in points.append(try histogramPoint(point)) }
            return .histogram(points, temporality: try temporality(histogram))
        }) {
            metric.data = data
        }
        if let data = try decode(object, "exponentialHistogram", "exponential_histogram", { value -> OTLPMetric.Data in
            let histogram = try self.object(value)
            var points: [OTLPExponentialHistogramPoint] = []
            try forEach(histogram, "dataPoints", "data_points") { point, _ in points.append(try exponentialHistogramPoint(point)) }
            return .exponentialHistogram(points, temporality: try temporality(histogram))
        }) {
            metric.data = data
        }
        if let data = try decode(object, "summary", nil, { value -> OTLPMetric.Data in
            var points: [OTLPSummaryPoint] = []
            try forEach(try self.object(value), "dataPoints", "data_points") { point, _ in points.append(try summaryPoint(point)) }
            return .summary(points)
        }) {
            metric.data = data
        }
        return metric
    }

    private static func temporality(_ object: JSONObject) throws -> Int32 {
        try enumValue(object, "aggregationTemporality", "aggregation_temporality", names: OTLPTemporality.names)
    }

    private static func numberPoints(_ object: JSONObject) throws -> [OTLPNumberPoint] {
        var points: [OTLPNumberPoint] = []
        try forEach(object, "dataPoints", "data_points") { point, _ in
            var result = OTLPNumberPoint(
                attributes: try attributes(point), timeUnixNano: try uint64(point, "timeUnixNano", "time_unix_nano"),
                flags: try uint32(point, "flags"))
            if let value = try double(point, "asDouble", "as_double") { result.value = value }
            if let value = try decode(point, "asInt", "as_int", { try int64($0) }) { result.value = Double(value) }
            result.exemplars = try exemplars(point)
            points.append(result)
        }
        return points
    }

    private static func histogramPoint(_ point: JSONObject) throws -> OTLPHistogramPoint {
        var result = OTLPHistogramPoint(
            attributes: try attributes(point), timeUnixNano: try uint64(point, "timeUnixNano", "time_unix_nano"),
            count: try uint64(point, "count"), sum: try double(point, "sum"), flags: try uint32(point, "flags"),
            exemplars: try exemplars(point))
        try forEachElement(point, "bucketCounts", "bucket_counts") { result.bucketCounts.append(try uint64($0)) }
        try forEachElement(point, "explicitBounds", "explicit_bounds") { result.explicitBounds.append(try double($0)) }
        return result
    }

    private static func exponentialHistogramPoint(_ point: JSONObject) throws -> OTLPExponentialHistogramPoint {
        func buckets(_ name: String) throws -> OTLPExponentialHistogramPoint.Buckets {
            try decode(point, name) { value in
                let object = try self.object(value)
                var buckets = OTLPExponentialHistogramPoint.Buckets(offset: try int32(object, "offset"))
                try forEachElement(object, "bucketCounts", "bucket_counts") { buckets.counts.append(try uint64($0)) }
                return buckets
            } ?? OTLPExponentialHistogramPoint.Buckets()
        }
        return OTLPExponentialHistogramPoint(
            attributes: try attributes(point), timeUnixNano: try uint64(point, "timeUnixNano", "time_unix_nano"),
            count: try uint64(point, "count"), sum: try double(point, "sum"), scale: try int32(point, "scale"),
            zeroCount: try uint64(point, "zeroCount", "zero_count"),
            zeroThreshold: try double(point, "zeroThreshold", "zero_threshold") ?? 0,
            positive: try buckets("positive"), negative: try buckets("negative"), flags: try uint32(point, "flags"),
            exemplars: try exemplars(point))
    }

    /// A data point's `exemplars`.
    private static func exemplars(_ point: JSONObject) throws -> [OTLPExemplar] {
        var exemplars: [OTLPExemplar] = []
        try forEach(point, "exemplars") { exemplar, _ in
            var result = OTLPExemplar(
                attributes: try attributes(exemplar, "filteredAttributes"), timeUnixNano: try uint64(exemplar, "timeUnixNano", "time_unix_nano"),
                traceID: try idBytes(exemplar, "traceId", "trace_id", length: 16), spanID: try idBytes(exemplar, "spanId", "span_id", length: 8))
            if let value = try double(exemplar, "asDouble", "as_double") { result.value = value }
            if let value = try decode(exemplar, "asInt", "as_int", { try int64($0) }) { result.value = Double(value) }
            exemplars.append(result)
        }
        return exemplars
    }

    private static func summaryPoint(_ point: JSONObject) throws -> OTLPSummaryPoint {
        var result = OTLPSummaryPoint(
            attributes: try attributes(point), timeUnixNano: try uint64(point, "timeUnixNano", "time_unix_nano"),
            count: try uint64(point, "count"), sum: try double(point, "sum") ?? 0, flags: try uint32(point, "flags"))
        try forEach(point, "quantileValues", "quantile_values") { quantile, _ in
            result.quantiles.append(
                OTLPSummaryPoint.Quantile(quantile: try double(quantile, "quantile") ?? 0, value: try double(quantile, "value") ?? 0))
        }
        return result
    }

    /// Calls `body` with each element of the array member `name`.
    private static func forEachElement(
        _ object: JSONObject, _ name: String, _ alternative: String, _ body: (JSONValue) throws -> Void
    ) throws {
        guard let value = member(object, name, alternative) else { return }
        guard case .array(let elements) = value else {
            throw FieldPathError("expected an array, got \(value.typeName)").prefixed(".\(name)")
        }
        for (index, element) in elements.enumerated() {
            try withFieldPath(".\(name)[\(index)]") { try body(element) }
        }
    }
}
