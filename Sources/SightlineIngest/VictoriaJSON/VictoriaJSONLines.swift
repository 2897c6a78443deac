package import SightlineCore

/// VictoriaMetrics' JSON line format of `/api/v1/export` and `/api/v1/import`: one series a line,
/// `{"metric":{"__name__":"up","job":"a"},"values":[1,0.5],"timestamps":[1700000000000,1700000015000]}`, timestamps in
/// milliseconds.
package enum VictoriaJSONLines {
    /// The samples of the good lines, and what was wrong with the others.
    package struct Parsed: Sendable {
        package var samples: [MetricSample] = []
        /// One message per line left out: its number (from 1) and the reason.
        package var errors: [String] = []
    }

    /// Reads a body of lines (empty lines skipped); `extraLabels` are added to every series (replacing its own).
    package static func parse(_ body: UnsafeRawBufferPointer, extraLabels: [Label] = []) -> Parsed {
        var parsed = Parsed()
        TextLines.forEach(in: body) { lineNumber, line in
            guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\t") }) else { return }
            do {
                parsed.samples += try series(line, extraLabels: extraLabels)
            } catch let error as SightlineError {
                parsed.errors.append("line \(lineNumber): \(error.message)")
            } catch {
                parsed.errors.append("line \(lineNumber): \(error)")
            }
        }
        return parsed
    }

    private static func series(_ line: UnsafeRawBufferPointer, extraLabels: [Label]) throws -> [MetricSample] {
        guard let object = try JSONParser.parse(line).objectValue else {
            throw SightlineError(.invalidArgument, "expected an object with \"metric\", \"values\" and \"timestamps\"")
        }
        guard let metric = object["metric"]?.objectValue else { throw SightlineError(.invalidArgument, "missing \"metric\" object") }
        var labels: [Label] = []
        for (name, value) in zip(metric.keys, metric.values) {
            guard let text = value.stringValue else { throw SightlineError(.invalidArgument, "label \"\(name)\" must be a string") }
            guard !extraLabels.contains(where: { $0.name == name }) else { continue }
            labels.append(Label(name, text))
        }
        labels += extraLabels
        guard let values = object["values"]?.arrayValue, let timestamps = object["timestamps"]?.arrayValue else {
            throw SightlineError(.invalidArgument, "missing \"values\" or \"timestamps\" array")
        }
        guard values.count == timestamps.count else {
            throw SightlineError(.invalidArgument, "\(values.count) values but \(timestamps.count) timestamps")
        }
        let set = Labels(labels)
        var samples: [MetricSample] = []
        samples.reserveCapacity(values.count)
        for (index, (value, timestamp)) in zip(values, timestamps).enumerated() {
            guard let number = value.doubleValue ?? (value == .null ? nil : Double(value.stringValue ?? "")) else {
                throw SightlineError(.invalidArgument, "values[\(index)] is not a number")
            }
            guard let milliseconds = timestamp.int64Value else { throw SightlineError(.invalidArgument, "timestamps[\(index)] is not an integer") }
            samples.append(MetricSample(labels: set, timestampMs: milliseconds, value: number))
        }
        return samples
    }

    /// Appends one series as a line: its samples in `[startMs, endMs]` but staleness markers and other NaNs, which
    /// JSON numbers cannot hold. A series without such samples writes nothing.
    package static func append(_ series: SeriesSamples, to out: inout String) {
        var values = ""
        var timestamps = ""
        var count = 0
        for (time, value) in zip(series.timestampsMs, series.values) where !value.isNaN {
            if count > 0 {
                values += ","
                timestamps += ","
            }
            values += JSONText.number(value)
            timestamps += String(time)
            count += 1
        }
        guard count > 0 else { return }
        out += "{\"metric\":"
        JSONText.appendLabels(series.labels, to: &out)
        out += ",\"values\":[" + values + "],\"timestamps\":[" + timestamps + "]}\n"
    }
}
