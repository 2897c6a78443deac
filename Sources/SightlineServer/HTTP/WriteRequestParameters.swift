import Hummingbird
import SightlineCore

/// What the metric write endpoints (remote write, the Prometheus import, InfluxDB, Datadog, VictoriaMetrics JSON lines,
/// OpenTSDB) read and answer alike.
enum WriteRequestParameters {
    /// The labels of the `extra_label=name=value` parameters, in order.
    /// - Throws: `invalidArgument` naming a parameter without `=` or without a name.
    static func extraLabels(_ request: Request) throws -> [Label] {
        try request.uri.queryParameters.getAll("extra_label").map { pair in
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw SightlineError(.invalidArgument, "invalid extra_label \"\(pair)\": use extra_label=name=value")
            }
            return Label(String(pair[..<equals]), String(pair[pair.index(after: equals)...]))
        }
    }

    /// Throws when the pipeline refused samples of a write: the accepted ones are stored, and a 400 (which clients do
    /// not retry) says how many were refused and why.
    static func requireAllStored(_ outcome: IngestPipeline.Outcome) throws {
        guard outcome.rejected == 0 else {
            throw SightlineError(.invalidArgument, "\(outcome.rejected) samples refused, \(outcome.accepted) stored: \(outcome.message)")
        }
    }

    /// The first five problems of a write, joined, and how many more there were.
    static func summary(_ problems: [String]) -> String {
        problems.prefix(5).joined(separator: "; ") + (problems.count > 5 ? "; and \(problems.count - 5) more" : "")
    }
}
