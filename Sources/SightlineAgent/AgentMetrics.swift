import Synchronization

/// The agent's own counters and gauges, served as Prometheus text on its `/metrics`.
///
/// Names carry their labels (`name{reason="x"}`), which keeps this a flat map: the agent has a few dozen series.
package final class AgentMetrics: Sendable {
    private let values = Mutex<[String: Double]>([:])

    package init() {}

    /// Adds `amount` to the counter `name`.
    package func add(_ name: String, _ amount: Double) {
        guard amount != 0 else { return }
        values.withLock { $0[name, default: 0] += amount }
    }

    /// Sets the gauge `name`.
    package func set(_ name: String, _ value: Double) {
        values.withLock { $0[name] = value }
    }

    /// The current value of `name` (0 when never set).
    package func value(_ name: String) -> Double { values.withLock { $0[name] ?? 0 } }

    /// The Prometheus text exposition of every value.
    package func exposition() -> String {
        let snapshot = values.withLock { $0 }
        var text = ""
        for (name, value) in snapshot.sorted(by: { $0.key < $1.key }) {
            text += "\(name) \(value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value))\n"
        }
        return text
    }
}
