import SightlineCore

extension OTLPProtobufDecoder {
    /// Decodes an `ExportMetricsServiceRequest` into the intermediate model.
    static func decodeMetrics(_ buffer: UnsafeRawBufferPointer) throws -> OTLPMetricsRequest {
        var r = ProtobufReader(buffer)
        var request = OTLPMetricsRequest()
        while let field = try r.nextField() {
            guard field == 1 else {
                try r.skipField()
                continue
            }
            request.resourceMetrics.append(
                try r.readMessage("resource_metrics", index: request.resourceMetrics.count) { try resourceMetrics(&$0) })
        }
        return request
    }

    /// `ResourceMetrics`: `resource = 1`, `scope_metrics = 2` (`ScopeMetrics.metrics = 2`).
    private static func resourceMetrics(_ r: inout ProtobufReader) throws -> OTLPResourceMetrics {
        var result = OTLPResourceMetrics()
        var scopeIndex = 0
        while let field = try r.nextField() {
            switch field {
            case 1: result.resource = try r.readMessage("resource") { try resource(&$0) }
            case 2:
                try r.readMessage("scope_metrics", index: scopeIndex) { scopeMetrics in
                    var metricIndex = 0
                    while let field = try scopeMetrics.nextField() {
                        if field == 2 {
                            result.metrics.append(try scopeMetrics.readMessage("metrics", index: metricIndex) { try metric(&$0) })
                            metricIndex += 1
                        } else {
                            try scopeMetrics.skipField()
                        }
                    }
                }
                scopeIndex += 1
            default: try r.skipField()
            }
        }
        return result
    }

    /// `Metric`: name 1, description 2, unit 3, gauge 5, sum 7, histogram 9, exponential_histogram 10, summary 11.
    private static func metric(_ r: inout ProtobufReader) throws -> OTLPMetric {
        var metric = OTLPMetric()
        while let field = try r.nextField() {
            switch field {
            case 1: metric.name = try r.readString("name")
            case 2: metric.description = try r.readString("description")
            case 3: metric.unit = try r.readString("unit")
            case 5:
                metric.data = .gauge(
                    try r.readMessage("gauge") { gauge in
                        var points: [OTLPNumberPoint] = []
                        while let field = try gauge.nextField() {
                            if field == 1 {
                                points.append(try gauge.readMessage("data_points", index: points.count) { try numberPoint(&$0) })
                            } else {
                                try gauge.skipField()
                            }
                        }
                        return points
                    })
            case 7:
                metric.data = try r.readMessage("sum") { sum in
                    var points: [OTLPNumberPoint] = []
                    var temporality: Int32 = 0
                    var isMonotonic = false
                    while let field = try sum.nextField() {
                        switch field {
                        case 1: points.append(try sum.readMessage("data_points", index: points.count) { try numberPoint(&$0) })
                        case 2: temporality = try sum.readInt32("aggregation_temporality")
                        case 3: isMonotonic = try sum.readBool("is_monotonic")
                        default: try sum.skipField()
                        }
                    }
                    return .sum(points, temporality: temporality, isMonotonic: isMonotonic)
                }
            case 9:
                metric.data = try r.readMessage("histogram") { histogram in
                    var points: [OTLPHistogramPoint] = []
                    var temporality: Int32 = 0
                    while let field = try histogram.nextField() {
                        switch field {
                        case 1:
                            points.append(try histogram.readMessage("data_points", index: points.count) { try histogramPoint(&$0) })
                        case 2: temporality = try histogram.readInt32("aggregation_temporality")
                        default: try histogram.skipField()
                        }
                    }
                    return .histogram(points, temporality: temporality)
                }
            case 10:
                metric.data = try r.readMessage("exponential_histogram") { histogram in
                    var points: [OTLPExponentialHistogramPoint] = []
                    var temporality: Int32 = 0
                    while let field = try histogram.nextField() {
                        switch field {
                        case 1:
                            points.append(
                                try histogram.readMessage("data_points", index: points.count) { try exponentialHistogramPoint(&$0) })
                        case 2: temporality = try histogram.readInt32("aggregation_temporality")
                        default: try histogram.skipField()
                        }
                    }
                    return .exponentialHistogram(points, temporality: temporality)
                }
            case 11:
                metric.data = .summary(
                    try r.readMessage("summary") { summary in
                        var points: [OTLPSummaryPoint] = []
                        while let field = try summary.nextField() {
                            if field == 1 {
                                points.append(try summary.readMessage("data_points", index: points.count) { try summaryPoint(&$0) })
                            } else {
                                try summary.skipField()
                            }
                        }
                        return points
                    })
            default: try r.skipField()
            }
        }
        return metric
    }

    /// `NumberDataPoint`: attributes 7, time 3, as_double 4, as_int 6 (sfixed64), exemplars 5, flags 8.
    private static func numberPoint(_ r: inout ProtobufReader) throws -> OTLPNumberPoint {
        var point = OTLPNumberPoint()
        while let field = try r.nextField() {
            switch field {
            case 7: try appendAttribute(&r, "attributes", to: &point.attributes)
            case 3: point.timeUnixNano = try r.readFixed64("time_unix_nano")
            case 4: point.value = try r.readDouble("as_double")
            case 6: point.value = Double(Int64(bitPattern: try r.readFixed64("as_int")))
            case 5: point.exemplars.append(try r.readMessage("exemplars", index: point.exemplars.count) { try exemplar(&$0) })
            case 8: point.flags = try r.readUInt32("flags")
            default: try r.skipField()
            }
        }
        return point
    }

    /// `HistogramDataPoint`: attributes 9, time 3, count 4, sum 5, bucket_counts 6, explicit_bounds 7, exemplars 8,
    /// flags 10.
    private static func histogramPoint(_ r: inout ProtobufReader) throws -> OTLPHistogramPoint {
        var point = OTLPHistogramPoint()
        while let field = try r.nextField() {
            switch field {
            case 9: try appendAttribute(&r, "attributes", to: &point.attributes)
            case 3: point.timeUnixNano = try r.readFixed64("time_unix_nano")
            case 4: point.count = try r.readFixed64("count")
            case 5: point.sum = try r.readDouble("sum")
            case 6: try r.appendFixed64s("bucket_counts", to: &point.bucketCounts)
            case 7: try r.appendDoubles("explicit_bounds", to: &point.explicitBounds)
            case 8: point.exemplars.append(try r.readMessage("exemplars", index: point.exemplars.count) { try exemplar(&$0) })
            case 10: point.flags = try r.readUInt32("flags")
            default: try r.skipField()
            }
        }
        return point
    }

    /// `ExponentialHistogramDataPoint`: attributes 1, time 3, count 4, sum 5, scale 6 (sint32), zero_count 7, positive 8,
    /// negative 9 (`Buckets`: offset 1 (sint32), bucket_counts 2 (uint64)), flags 10, exemplars 11, zero_threshold 14.
    private static func exponentialHistogramPoint(_ r: inout ProtobufReader) throws -> OTLPExponentialHistogramPoint {
        var point = OTLPExponentialHistogramPoint()
        func buckets(_ r: inout ProtobufReader) throws -> OTLPExponentialHistogramPoint.Buckets {
            var buckets = OTLPExponentialHistogramPoint.Buckets()
            while let field = try r.nextField() {
                switch field {
                case 1: buckets.offset = try r.readSInt32("offset")
                case 2: try r.appendVarints("bucket_counts", to: &buckets.counts)
                default: try r.skipField()
                }
            }
            return buckets
        }
        while let field = try r.nextField() {
            switch field {
            case 1: try appendAttribute(&r, "attributes", to: &point.attributes)
            case 3: point.timeUnixNano = try r.readFixed64("time_unix_nano")
            case 4: point.count = try r.readFixed64("count")
            case 5: point.sum = try r.readDouble("sum")
            case 6: point.scale = try r.readSInt32("scale")
            case 7: point.zeroCount = try r.readFixed64("zero_count")
            case 8: point.positive = try r.readMessage("positive") { try buckets(&$0) }
            case 9: point.negative = try r.readMessage("negative") { try buckets(&$0) }
            case 10: point.flags = try r.readUInt32("flags")
            case 11: point.exemplars.append(try r.readMessage("exemplars", index: point.exemplars.count) { try exemplar(&$0) })
            case 14: point.zeroThreshold = try r.readDouble("zero_threshold")
            default: try r.skipField()
            }
        }
        return point
    }

    /// `Exemplar`: filtered_attributes 7, time 2, as_double 3, as_int 6 (sfixed64), span_id 4, trace_id 5.
    private static func exemplar(_ r: inout ProtobufReader) throws -> OTLPExemplar {
        var exemplar = OTLPExemplar()
        while let field = try r.nextField() {
            switch field {
            case 7: try appendAttribute(&r, "filtered_attributes", to: &exemplar.attributes)
            case 2: exemplar.timeUnixNano = try r.readFixed64("time_unix_nano")
            case 3: exemplar.value = try r.readDouble("as_double")
            case 6: exemplar.value = Double(Int64(bitPattern: try r.readFixed64("as_int")))
            case 4: exemplar.spanID = try r.readBytes("span_id")
            case 5: exemplar.traceID = try r.readBytes("trace_id")
            default: try r.skipField()
            }
        }
        return exemplar
    }

    /// `SummaryDataPoint`: attributes 7, time 3, count 4, sum 5, quantile_values 6 (quantile 1, value 2), flags 8.
    private static func summaryPoint(_ r: inout ProtobufReader) throws -> OTLPSummaryPoint {
        var point = OTLPSummaryPoint()
        while let field = try r.nextField() {
            switch field {
            case 7: try appendAttribute(&r, "attributes", to: &point.attributes)
            case 3: point.timeUnixNano = try r.readFixed64("time_unix_nano")
            case 4: point.count = try r.readFixed64("count")
            case 5: point.sum = try r.readDouble("sum")
            case 6:
                point.quantiles.append(
                    try r.readMessage("quantile_values", index: point.quantiles.count) { q in
                        var quantile = OTLPSummaryPoint.Quantile(quantile: 0, value: 0)
                        while let field = try q.nextField() {
                            switch field {
                            case 1: quantile.quantile = try q.readDouble("quantile")
                            case 2: quantile.value = try q.readDouble("value")
                            default: try q.skipField()
                            }
                        }
                        return quantile
                    })
            case 8: point.flags = try r.readUInt32("flags")
            default: try r.skipField()
            }
        }
        return point
    }
}
