import Foundation
import SightlineCore
import Synchronization

@testable import SightlineAlerting

/// A clock tests move by hand.
final class ManualNotifyClock: NotifyClock {
    private let value: Mutex<Int64>
    init(_ start: Int64) { value = Mutex(start) }
    func nowMs() -> Int64 { value.withLock { $0 } }
    func advance(ms: Int64) { value.withLock { $0 += ms } }
    func set(_ ms: Int64) { value.withLock { $0 = ms } }
}

/// A transport that records what would be sent and fails while told to.
actor FakeTransport: NotificationTransport {
    private(set) var posts: [OutboundPost] = []
    private(set) var mails: [EmailMessage] = []
    private(set) var attempts = 0
    /// The status every POST gets.
    var status = 200
    /// The body every POST gets.
    var body = Array(#"{"ok":true,"success":true}"#.utf8)
    /// Whether connections fail.
    var down = false

    func setDown(_ value: Bool) { down = value }
    func setStatus(_ value: Int) { status = value }
    func setBody(_ value: String) { body = Array(value.utf8) }

    func post(_ request: OutboundPost, timeoutMs: Int64) async throws -> NotifyHTTPClient.Response {
        attempts += 1
        if down { throw SightlineError(.unavailable, "connection refused") }
        if (200..<300).contains(status) { posts.append(request) }
        return NotifyHTTPClient.Response(status: status, body: body)
    }

    func sendMail(_ message: EmailMessage, config: EmailConfig, timeoutMs: Int64) async throws {
        attempts += 1
        if down { throw SightlineError(.unavailable, "connection refused") }
        mails.append(message)
    }

    /// The posted bodies as text.
    var bodies: [String] { posts.map { String(decoding: $0.body, as: UTF8.self) } }
}

/// 2026-11-26T10:00:00Z, a Thursday.
let notifyT0: Int64 = 1_795_687_200_000

/// An alert that fires from `startsAt` with no end.
func firing(_ pairs: KeyValuePairs<String, String>, at startsAt: Int64 = notifyT0, endsAt: Int64? = nil) -> Alert {
    Alert(labels: Labels(pairs), annotations: Labels(["summary": "something"]), startsAtMs: startsAt, endsAtMs: endsAt, generatorURL: "http://prom/graph")
}

/// Parses a small JSON object body.
func jsonObject(_ text: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
}
