package import SightlineCore

/// Parses Graphite's plaintext protocol, one line per data point: `path value [timestamp]`, fields separated by spaces
/// or tabs, the path optionally tagged as Graphite 1.1 writes it (`disk.used;host=web01;mount=/`).
///
/// As VictoriaMetrics maps it: the path is the metric name as it is (dots included), the tags are labels. The
/// timestamp is in seconds since the epoch, fractions allowed (milliseconds are refused, not read as a far future);
/// missing or `-1` means the time the line arrived.
package enum GraphiteLine {
    /// The sample of one line (without its newline).
    /// - Parameter receivedAtMs: The timestamp of a line without one.
    /// - Throws: ``SightlineError`` `.invalidArgument` naming what is wrong with the line.
    package static func parse(_ line: some Collection<UInt8>, receivedAtMs: Int64) throws -> MetricSample {
        let fields = PlainFields(line)
        guard fields.count == 2 || fields.count == 3 else {
            throw SightlineError(
                .invalidArgument, "Graphite line \(quoted(line)): expected \"path value [timestamp]\", got \(fields.count) fields")
        }
        let labels = try self.labels(fields[0], line: line)
        guard let value = Double(fields.text(1)), !value.isNaN else {
            throw SightlineError(.invalidArgument, "Graphite line \(quoted(line)): value \"\(fields.text(1))\" is not a number")
        }
        var timestampMs = receivedAtMs
        if fields.count == 3, fields.text(2) != "-1" {
            guard let seconds = Double(fields.text(2)), seconds > 0, seconds < 1e11 else {
                throw SightlineError(
                    .invalidArgument, "Graphite line \(quoted(line)): timestamp \"\(fields.text(2))\" is not seconds since the epoch")
            }
            timestampMs = Int64((seconds * 1000).rounded())
        }
        return MetricSample(labels: labels, timestampMs: timestampMs, value: value)
    }

    /// `path;tag=value;…` as labels: `__name__` the path, then the tags (a repeated tag keeps its first value).
    private static func labels(_ path: Substring, line: some Collection<UInt8>) throws -> Labels {
        var parts = path.split(separator: ";", omittingEmptySubsequences: false)
        let name = parts.removeFirst()
        guard !name.isEmpty else { throw SightlineError(.invalidArgument, "Graphite line \(quoted(line)): the path is empty") }
        var labels = [Label(Labels.metricName, String(name))]
        for tag in parts {
            guard let equals = tag.firstIndex(of: "="), equals != tag.startIndex, tag.index(after: equals) != tag.endIndex else {
                throw SightlineError(.invalidArgument, "Graphite line \(quoted(line)): tag \"\(tag)\" is not name=value")
            }
            let tagName = String(tag[..<equals])
            guard tagName != Labels.metricName, !labels.contains(where: { $0.name == tagName }) else { continue }
            labels.append(Label(tagName, String(tag[tag.index(after: equals)...])))
        }
        return Labels(labels)
    }

    /// A line for an error message, cut to 200 bytes.
    static func quoted(_ line: some Collection<UInt8>) -> String {
        let text = String(decoding: line.prefix(200), as: UTF8.self)
        return "\"\(text)\(line.count > 200 ? "…" : "")\""
    }
}

/// The fields of a line separated by runs of spaces or tabs (a carriage return before the newline included).
struct PlainFields {
    private let fields: [Substring]

    init(_ line: some Collection<UInt8>) {
        fields = String(decoding: line, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
    }

    var count: Int { fields.count }

    subscript(index: Int) -> Substring { fields[index] }

    func text(_ index: Int) -> String { String(fields[index]) }
}
