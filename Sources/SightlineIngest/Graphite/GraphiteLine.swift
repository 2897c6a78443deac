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
        let tags = try parts.map { tag in
            guard let pair = PlainFields.tag(tag) else {
                throw SightlineError(.invalidArgument, "Graphite line \(quoted(line)): tag \"\(tag)\" is not name=value")
            }
            return pair
        }
        return PlainFields.labels(metric: String(name), tags: tags)
    }

    /// A line for an error message, cut to 200 bytes.
    static func quoted(_ line: some Collection<UInt8>) -> String {
        let text = String(decoding: line.prefix(200), as: UTF8.self)
        return "\"\(text)\(line.count > 200 ? "…" : "")\""
    }
}

/// The fields of a line separated by runs of spaces or tabs (a carriage return before the newline included), and the
/// tags of Graphite's and OpenTSDB's lines.
struct PlainFields {
    private let fields: [Substring]

    init(_ line: some Collection<UInt8>) {
        fields = String(decoding: line, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
    }

    var count: Int { fields.count }

    subscript(index: Int) -> Substring { fields[index] }

    func text(_ index: Int) -> String { String(fields[index]) }

    /// A `name=value` tag split in two; nil when either side is empty or there is no `=`.
    static func tag(_ text: Substring) -> (name: String, value: String)? {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex, text.index(after: equals) != text.endIndex else {
            return nil
        }
        return (String(text[..<equals]), String(text[text.index(after: equals)...]))
    }

    /// A metric and its tags as labels: `__name__`, then the tags; a tag named `__name__` or repeated is left out.
    static func labels(metric: String, tags: [(name: String, value: String)]) -> Labels {
        var labels = [Label(Labels.metricName, metric)]
        for (name, value) in tags where name != Labels.metricName && !labels.contains(where: { $0.name == name }) {
            labels.append(Label(name, value))
        }
        return Labels(labels)
    }
}
