/// How a ``NATSConnection`` behaves; every value has a default, so callers set only what they need.
package struct NATSConnectionOptions: Sendable {
    /// The connection name the server shows in its monitoring endpoints.
    package var name: String?
    /// How long to wait for the TCP connection, the server's `INFO` and the answer to `CONNECT`.
    package var connectTimeout: Duration
    /// How long ``NATSConnection/request(_:payload:headers:timeout:)`` waits for a reply when the call gives no timeout.
    package var requestTimeout: Duration
    /// How often the client sends its own `PING` to find a dead server.
    package var pingInterval: Duration
    /// How many `PING`s may go unanswered before the connection is failed.
    package var maxPingsOutstanding: Int
    /// The first token of the reply subjects this client makes (`<prefix>.<random>.…`).
    package var inboxPrefix: String

    /// Options with the given values. Keep-alive defaults are the Go client's: a `PING` every two minutes, failure after two
    /// unanswered.
    package init(
        name: String? = nil,
        connectTimeout: Duration = .seconds(5),
        requestTimeout: Duration = .seconds(5),
        pingInterval: Duration = .seconds(120),
        maxPingsOutstanding: Int = 2,
        inboxPrefix: String = "_INBOX"
    ) {
        self.name = name
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.pingInterval = pingInterval
        self.maxPingsOutstanding = maxPingsOutstanding
        self.inboxPrefix = inboxPrefix
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating), for NIO's `TimeAmount` and JetStream's JSON.
    var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? Int64.min : Int64.max }
        return scaled.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}
