package import SightlineCore

/// Decodes OpenTSDB's `/api/put` body — one data point object or an array of them,
/// `{"metric": "sys.cpu.user", "timestamp": 1700000000, "value": 42.5, "tags": {"host": "web01"}}` — into samples, as
/// VictoriaMetrics maps them: the metric name as it is, the tags as labels. Timestamps of 10 digits or fewer are
/// seconds, longer ones milliseconds (OpenTSDB's rule); values may be numbers or numeric strings.
package enum OpenTSDBPutDecoder {
    /// The samples of the good data points, and what was wrong with the others.
    package struct Decoded: Sendable {
        package var samples: [MetricSample] = []
        /// One message per data point left out: its index and the reason.
        package var errors: [String] = []
    }

    /// Decodes `json`.
    /// - Throws: ``SightlineError`` `.invalidArgument` when the body is not JSON, or neither an object nor an array.
    package static func decode(json: UnsafeRawBufferPointer) throws -> Decoded {
        let document: JSONValue
        do {
            document = try JSONParser.parse(json)
        } catch let error as SightlineError {
            throw SightlineError(.invalidArgument, "invalid OpenTSDB put JSON: \(error.message)")
        }
        let points: [JSONValue]
        switch document {
        case .array(let list): points = list
        case .object: points = [document]
        default: throw SightlineError(.invalidArgument, "invalid OpenTSDB put JSON: expected a data point object or an array of them")
        }
        var decoded = Decoded()
        for (index, point) in points.enumerated() {
            do {
                decoded.samples.append(try sample(point))
            } catch let error as SightlineError {
                decoded.errors.append("data point \(index): \(error.message)")
            }
        }
        return decoded
    }

    private static func sample(_ point: JSONValue) throws -> MetricSample {
        guard let object = point.objectValue else { throw SightlineError(.invalidArgument, "expected an object") }
        guard let metric = object["metric"]?.stringValue, !metric.isEmpty else {
            throw SightlineError(.invalidArgument, "missing \"metric\"")
        }
        guard let timestamp = object["timestamp"]?.int64Value, timestamp > 0 else {
            throw SightlineError(.invalidArgument, "missing or invalid \"timestamp\" (seconds or milliseconds since the epoch)")
        }
        let value: Double
        switch object["value"] {
        case .number(let text)?: value = Double(text) ?? .nan
        case .string(let text)?: value = Double(text) ?? .nan
        default: throw SightlineError(.invalidArgument, "missing \"value\"")
        }
        var tags: [(name: String, value: String)] = []
        if let tagObject = object["tags"] {
            guard let tagObject = tagObject.objectValue else { throw SightlineError(.invalidArgument, "\"tags\" must be an object") }
            for (name, tagValue) in zip(tagObject.keys, tagObject.values) {
                guard let text = tagValue.stringValue else { throw SightlineError(.invalidArgument, "tag \"\(name)\" must be a string") }
                tags.append((name, text))
            }
        }
        return try sample(metric: metric, timestamp: timestamp, value: value, tags: tags)
    }

    /// A data point as a sample: the metric as `__name__`, then the tags (one named `__name__` or repeated is left
    /// out). Timestamps of 10 digits or fewer are seconds, longer ones milliseconds.
    /// - Throws: ``SightlineError`` `.invalidArgument` when the value is NaN.
    static func sample(metric: String, timestamp: Int64, value: Double, tags: [(name: String, value: String)]) throws -> MetricSample {
        guard !value.isNaN else { throw SightlineError(.invalidArgument, "\"value\" is not a number") }
        let milliseconds = timestamp < 10_000_000_000 ? timestamp * 1000 : timestamp
        return MetricSample(labels: PlainFields.labels(metric: metric, tags: tags), timestampMs: milliseconds, value: value)
    }
}
