/// The kinds of telemetry Sightline ingests.
package enum Signal: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case logs = 1
    case metrics = 2
    case traces = 3

    package var description: String {
        switch self {
        case .logs: "logs"
        case .metrics: "metrics"
        case .traces: "traces"
        }
    }

    /// Parses the names used in URLs and metrics labels (`logs`, `metrics`, `traces`).
    package init?(name: String) {
        guard let signal = Signal.allCases.first(where: { $0.description == name }) else { return nil }
        self = signal
    }
}
