package import SightlineCore

/// Decodes Datadog's "submit metrics" requests — `/api/v1/series` (JSON) and `/api/v2/series` (JSON or protobuf), what
/// the Datadog Agent, DogStatsD forwarders and the Datadog client libraries send — and its distributions — the Agent's
/// sketches (`/api/beta/sketches`, protobuf) and the client libraries' raw values (`/api/v1/distribution_points`,
/// JSON) — into samples, mapped as VictoriaMetrics maps them:
///
/// - the metric name as Datadog sanitizes it (characters other than letters, digits, `_` and `.` become `_`, runs of
///   `_` one, `_` next to a `.` dropped): `system.load.1`;
/// - tags `name:value` become labels (a tag without `:` gets the value `no_label_value`); v1's `host` and `device`
///   and v2's resources (`{"type": "host", "name": "h1"}` → `host="h1"`) and `source_type_name` become labels too;
///   the first label of a name wins;
/// - points are `[seconds, value]` (v1) or `{timestamp, value}` (v2); a timestamp of 0 or less takes the request's time;
/// - a distribution point (`[seconds, [values…]]`, or a sketch) becomes the summary series ``DatadogDistribution``
///   describes: `m{quantile="0.5"}` … `m{quantile="0.99"}`, `m_sum` and `m_count`.
///
/// `MetricPayload` (v2 protobuf): series 1 → `MetricSeries`: resources 1 (`type` 1, `name` 2), metric 2, tags 3,
/// points 4 (`value` 1 double, `timestamp` 2), type 5, unit 6, source_type_name 7, interval 8.
///
/// `SketchPayload` (sketches): sketches 1 → `Sketch`: metric 1, host 2, tags 4, dogsketches 7 → `Dogsketch`: ts 1,
/// cnt 2, min 3, max 4, sum 6, k 7 (packed sint32), n 8 (packed uint32).
package enum DatadogSeriesDecoder {
    /// One series as the request has it, before it becomes samples.
    private struct Series {
        var metric = ""
        var labels: [Label] = []
        var points: [(seconds: Int64, value: Double)] = []
        var distributions: [(seconds: Int64, distribution: DatadogDistribution)] = []
    }

    /// The request kinds with a JSON body.
    private enum JSONKind {
        case seriesV1, seriesV2, distributionPoints
    }

    /// Decodes a v1 request body (JSON).
    /// - Throws: ``SightlineError`` `.invalidArgument` naming what is malformed.
    package static func decodeV1(json: UnsafeRawBufferPointer, nowMs: Int64) throws -> [MetricSample] {
        try samples(of: series(json, kind: .seriesV1), nowMs: nowMs)
    }

    /// Decodes a v2 request body (JSON).
    package static func decodeV2(json: UnsafeRawBufferPointer, nowMs: Int64) throws -> [MetricSample] {
        try samples(of: series(json, kind: .seriesV2), nowMs: nowMs)
    }

    /// Decodes a `/api/v1/distribution_points` body (JSON): v1 series whose points are `[seconds, [values…]]`.
    package static func decodeDistributionPoints(json: UnsafeRawBufferPointer, nowMs: Int64) throws -> [MetricSample] {
        try samples(of: series(json, kind: .distributionPoints), nowMs: nowMs)
    }

    /// Decodes a `/api/beta/sketches` body (protobuf `SketchPayload`).
    package static func decodeSketches(protobuf: UnsafeRawBufferPointer, nowMs: Int64) throws -> [MetricSample] {
        let series = try payload(protobuf, root: "SketchPayload", field: "sketches") { message in
            var one = Series()
            while let field = try message.nextField() {
                switch field {
                case 1: one.metric = try message.readString("metric")
                case 2:
                    let host = try message.readString("host")
                    if !host.isEmpty { one.labels.insert(Label("host", host), at: 0) }
                case 4: one.labels.append(tag(try message.readString("tags")))
                case 7:
                    var seconds: Int64 = 0
                    var sketch = DatadogSketch()
                    let pointIndex = one.distributions.count
                    try message.readMessage("dogsketches", index: pointIndex) { point in
                        while let inner = try point.nextField() {
                            switch inner {
                            case 1: seconds = Int64(bitPattern: try point.readVarint("ts"))
                            case 2: sketch.count = Int64(bitPattern: try point.readVarint("cnt"))
                            case 3: sketch.min = try point.readDouble("min")
                            case 4: sketch.max = try point.readDouble("max")
                            case 6: sketch.sum = try point.readDouble("sum")
                            case 7: try point.appendSInt64s("k", to: &sketch.keys)
                            case 8: try point.appendVarints("n", to: &sketch.counts)
                            default: try point.skipField()
                            }
                        }
                        guard sketch.keys.count == sketch.counts.count else {
                            throw FieldPathError("has \(sketch.keys.count) keys (k) but \(sketch.counts.count) bin counts (n)")
                        }
                    }
                    one.distributions.append((seconds, DatadogDistribution(sketch: sketch)))
                default: try message.skipField()
                }
            }
            return one
        }
        return try samples(of: series, nowMs: nowMs)
    }

    /// Decodes a v2 request body (protobuf `MetricPayload`).
    package static func decodeV2(protobuf: UnsafeRawBufferPointer, nowMs: Int64) throws -> [MetricSample] {
        let series = try payload(protobuf, root: "MetricPayload", field: "series") { message in
            var one = Series()
            var sourceType = ""
            while let field = try message.nextField() {
                switch field {
                case 1:
                    var (type, name) = ("", "")
                    var resource = try message.readMessage("resources")
                    while let inner = try resource.nextField() {
                        switch inner {
                        case 1: type = try resource.readString("type")
                        case 2: name = try resource.readString("name")
                        default: try resource.skipField()
                        }
                    }
                    one.labels.append(Label(type, name))
                case 2: one.metric = try message.readString("metric")
                case 3: one.labels.append(tag(try message.readString("tags")))
                case 4:
                    var (seconds, value): (Int64, Double) = (0, 0)
                    var point = try message.readMessage("points")
                    while let inner = try point.nextField() {
                        switch inner {
                        case 1: value = try point.readDouble("value")
                        case 2: seconds = Int64(bitPattern: try point.readVarint("timestamp"))
                        default: try point.skipField()
                        }
                    }
                    one.points.append((seconds, value))
                case 7: sourceType = try message.readString("source_type_name")
                default: try message.skipField()
                }
            }
            if !sourceType.isEmpty { one.labels.append(Label("source_type_name", sourceType)) }
            return one
        }
        return try samples(of: series, nowMs: nowMs)
    }

    /// The series of a protobuf payload (`root`) whose field 1 repeats the series message (`field`), each decoded by
    /// `series`; other fields are skipped.
    private static func payload(
        _ protobuf: UnsafeRawBufferPointer, root: String, field name: StaticString, _ series: (inout ProtobufReader) throws -> Series
    ) throws -> [Series] {
        var all: [Series] = []
        do {
            var reader = ProtobufReader(protobuf)
            while let field = try reader.nextField() {
                guard field == 1 else {
                    try reader.skipField()
                    continue
                }
                all.append(try reader.readMessage(name, index: all.count, series))
            }
        } catch let error as FieldPathError {
            throw error.sightlineError(prefix: "malformed protobuf in", root: root)
        }
        return all
    }

    /// The series of a JSON body.
    private static func series(_ json: UnsafeRawBufferPointer, kind: JSONKind) throws -> [Series] {
        let document: JSONValue
        do {
            document = try JSONParser.parse(json)
        } catch let error as SightlineError {
            throw SightlineError(.invalidArgument, "invalid Datadog series JSON: \(error.message)")
        }
        guard let list = document.objectValue?["series"]?.arrayValue else {
            throw SightlineError(.invalidArgument, "invalid Datadog series JSON: expected an object with a \"series\" array")
        }
        return try list.enumerated().map { index, item in
            func fail(_ what: String) -> SightlineError {
                SightlineError(.invalidArgument, "invalid Datadog series JSON: series[\(index)]: \(what)")
            }
            guard let object = item.objectValue else { throw fail("expected an object") }
            var one = Series()
            guard let metric = object["metric"]?.stringValue else { throw fail("missing \"metric\"") }
            one.metric = metric
            if kind != .seriesV2 {
                for name in ["host", "device"] {
                    if let value = object[name]?.stringValue, !value.isEmpty { one.labels.append(Label(name, value)) }
                }
            } else {
                for resource in object["resources"]?.arrayValue ?? [] {
                    guard let resource = resource.objectValue, let type = resource["type"]?.stringValue,
                        let name = resource["name"]?.stringValue
                    else { throw fail("a resource needs a \"type\" and a \"name\"") }
                    one.labels.append(Label(type, name))
                }
                if let source = object["source_type_name"]?.stringValue, !source.isEmpty {
                    one.labels.append(Label("source_type_name", source))
                }
            }
            for tag in object["tags"]?.arrayValue ?? [] {
                guard let text = tag.stringValue else { throw fail("tags must be strings") }
                one.labels.append(Self.tag(text))
            }
            for (pointIndex, point) in (object["points"]?.arrayValue ?? []).enumerated() {
                switch kind {
                case .seriesV1:
                    guard let pair = point.arrayValue, pair.count == 2, let seconds = pair[0].doubleValue, let value = pair[1].doubleValue else {
                        throw fail("points[\(pointIndex)] must be [timestamp, value]")
                    }
                    one.points.append((Int64(seconds), value))
                case .distributionPoints:
                    guard let pair = point.arrayValue, pair.count == 2, let seconds = pair[0].doubleValue,
                        let list = pair[1].arrayValue
                    else { throw fail("points[\(pointIndex)] must be [timestamp, [values…]]") }
                    let values = try list.map { item in
                        guard let value = item.doubleValue else { throw fail("points[\(pointIndex)] holds a value that is not a number") }
                        return value
                    }
                    one.distributions.append((Int64(seconds), DatadogDistribution(values: values)))
                case .seriesV2:
                    guard let pair = point.objectValue, let value = pair["value"]?.doubleValue else {
                        throw fail("points[\(pointIndex)] must be {\"timestamp\": …, \"value\": …}")
                    }
                    one.points.append((pair["timestamp"]?.doubleValue.map { Int64($0) } ?? 0, value))
                }
            }
            return one
        }
    }

    /// A tag as a label: `name:value`, or `name` with the value `no_label_value`.
    private static func tag(_ text: String) -> Label {
        guard let colon = text.firstIndex(of: ":") else { return Label(text, "no_label_value") }
        return Label(String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    private static func samples(of series: [Series], nowMs: Int64) throws -> [MetricSample] {
        var samples: [MetricSample] = []
        for one in series {
            let name = sanitizedName(one.metric)
            guard !name.isEmpty else { throw SightlineError(.invalidArgument, "Datadog metric name \"\(one.metric)\" has no valid characters") }
            func labelSet(_ name: String, _ first: Label? = nil) -> Labels {
                var labels = [Label(Labels.metricName, name)]
                if let first { labels.append(first) }
                for label in one.labels where !label.name.isEmpty && !labels.contains(where: { $0.name == label.name }) {
                    labels.append(label)
                }
                return Labels(labels)
            }
            func timestampMs(_ seconds: Int64) throws -> Int64 {
                guard seconds > 0 else { return nowMs }
                let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
                guard !overflow else {
                    throw SightlineError(.invalidArgument, "Datadog point of \(one.metric) has an out-of-range timestamp \(seconds)")
                }
                return product
            }
            if !one.points.isEmpty {
                let set = labelSet(name)
                for point in one.points {
                    samples.append(MetricSample(labels: set, timestampMs: try timestampMs(point.seconds), value: point.value))
                }
            }
            if !one.distributions.isEmpty {
                let quantileSets = DatadogDistribution.quantiles.map { labelSet(name, Label("quantile", $0.label)) }
                let (sumSet, countSet) = (labelSet(name + "_sum"), labelSet(name + "_count"))
                for (seconds, distribution) in one.distributions {
                    let time = try timestampMs(seconds)
                    for (set, value) in zip(quantileSets, distribution.quantileValues) {
                        samples.append(MetricSample(labels: set, timestampMs: time, value: value))
                    }
                    samples.append(MetricSample(labels: sumSet, timestampMs: time, value: distribution.sum))
                    samples.append(MetricSample(labels: countSet, timestampMs: time, value: distribution.count))
                }
            }
        }
        return samples
    }

    /// The name as Datadog sanitizes custom metric names: characters other than letters, digits, `_` and `.` become
    /// `_`, a run of `_` becomes one, and a `_` right before or after a `.` is dropped.
    package static func sanitizedName(_ name: String) -> String {
        var replaced: [UInt8] = []
        replaced.reserveCapacity(name.utf8.count)
        for byte in name.utf8 {
            let allowed = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F || byte == 0x2E
            let next = allowed ? byte : 0x5F
            if next == 0x5F, replaced.last == 0x5F { continue }
            replaced.append(next)
        }
        var result: [UInt8] = []
        result.reserveCapacity(replaced.count)
        for (index, byte) in replaced.enumerated() {
            if byte == 0x5F, result.last == 0x2E || (index + 1 < replaced.count && replaced[index + 1] == 0x2E) { continue }
            result.append(byte)
        }
        return String(decoding: result, as: UTF8.self)
    }
}
