import SightlineCore

/// An `ExportMetricsServiceRequest` as decoded from protobuf or JSON, before translation to the Prometheus model.
///
/// Only what the translation needs is kept (no start times, no min/max).
struct OTLPMetricsRequest {
    var resourceMetrics: [OTLPResourceMetrics] = []
}

/// `ResourceMetrics`: a resource and its metrics (scopes flattened; the Prometheus mapping does not use them).
struct OTLPResourceMetrics {
    var resource: [Attribute] = []
    var metrics: [OTLPMetric] = []
}

/// `AggregationTemporality` values.
enum OTLPTemporality {
    static let unspecified: Int32 = 0
    static let delta: Int32 = 1
    static let cumulative: Int32 = 2
    static let names = ["AGGREGATION_TEMPORALITY_UNSPECIFIED", "AGGREGATION_TEMPORALITY_DELTA", "AGGREGATION_TEMPORALITY_CUMULATIVE"]
}

/// One `Metric`.
struct OTLPMetric {
    enum Data {
        case none
        case gauge([OTLPNumberPoint])
        case sum([OTLPNumberPoint], temporality: Int32, isMonotonic: Bool)
        case histogram([OTLPHistogramPoint], temporality: Int32)
        case exponentialHistogram([OTLPExponentialHistogramPoint], temporality: Int32)
        case summary([OTLPSummaryPoint])
    }

    var name = ""
    var description = ""
    var unit = ""
    var data = Data.none
}

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`.
let otlpNoRecordedValueFlag: UInt32 = 1

/// `Exemplar`: a measurement a data point took in, with the span it was taken in.
struct OTLPExemplar {
    var attributes: [Attribute] = []
    var timeUnixNano: UInt64 = 0
    var value: Double = 0
    var traceID: [UInt8] = []
    var spanID: [UInt8] = []
}

/// `NumberDataPoint`.
struct OTLPNumberPoint {
    var attributes: [Attribute] = []
    var timeUnixNano: UInt64 = 0
    var value: Double = 0
    var flags: UInt32 = 0
    var exemplars: [OTLPExemplar] = []
}

/// `HistogramDataPoint`.
struct OTLPHistogramPoint {
    var attributes: [Attribute] = []
    var timeUnixNano: UInt64 = 0
    var count: UInt64 = 0
    var sum: Double?
    var bucketCounts: [UInt64] = []
    var explicitBounds: [Double] = []
    var flags: UInt32 = 0
    var exemplars: [OTLPExemplar] = []
}

/// `ExponentialHistogramDataPoint`: bucket `i` of `positive` holds the observations in `(base^i, base^(i+1)]`, of
/// `negative` those in `[-base^(i+1), -base^i)`, where `base = 2^(2^-scale)`; `zeroCount` those in
/// `[-zeroThreshold, zeroThreshold]`.
struct OTLPExponentialHistogramPoint {
    /// `Buckets`: the count of bucket `offset + i` at `counts[i]`.
    struct Buckets {
        var offset: Int32 = 0
        var counts: [UInt64] = []
    }

    var attributes: [Attribute] = []
    var timeUnixNano: UInt64 = 0
    var count: UInt64 = 0
    var sum: Double?
    var scale: Int32 = 0
    var zeroCount: UInt64 = 0
    var zeroThreshold: Double = 0
    var positive = Buckets()
    var negative = Buckets()
    var flags: UInt32 = 0
    var exemplars: [OTLPExemplar] = []
}

/// `SummaryDataPoint`.
struct OTLPSummaryPoint {
    struct Quantile {
        var quantile: Double
        var value: Double
    }

    var attributes: [Attribute] = []
    var timeUnixNano: UInt64 = 0
    var count: UInt64 = 0
    var sum: Double = 0
    var quantiles: [Quantile] = []
    var flags: UInt32 = 0
}
