import Foundation
import SightlineCore
import SightlineTestSupport
import Testing
@testable import SightlineIngest

struct AuditEventDecoderTests {
    static let acme = Tenant(uncheckedID: "acme")

    static func decode(_ text: String) throws -> [AuditEvent] {
        try AuditEventDecoder.decode(Array(text.utf8), tenant: acme)
    }

    @Test func decodesEveryFieldOfTheContract() throws {
        let events = try Self.decode(
            #"""
            {"events": [
              {"id": "0192f3c4-7a1b-7cde-8f00-0123456789ab", "tenant": "acme", "time": "2026-11-26T13:05:55.123456789Z",
               "actor": {"id": "u-1", "type": "user", "display": "Alice"}, "action": "invoice.update",
               "resource": {"type": "invoice", "id": "inv-7"}, "outcome": "denied", "request_id": "r-1",
               "client_address": "10.0.0.1", "user_agent": "app/1", "reason": "limit",
               "before": {"amount": 10, "tags": ["a"]}, "after": {"amount": 12.50}, "attributes": {"zone": "eu", "app": "billing"}},
              {"id": "e2", "time": "2026-11-26T13:05:56Z", "actor": {"id": "svc"}, "action": "transfer.create",
               "resource": {"type": "transfer", "id": null}, "outcome": "success", "reason": null}
            ]}
            """#)
        #expect(events.count == 2)
        let first = events[0]
        #expect(first.id == "0192f3c4-7a1b-7cde-8f00-0123456789ab")
        #expect(first.timeNano == 1_795_698_355_123_456_789)
        #expect(first.actor == AuditEvent.Actor(id: "u-1", type: "user", display: "Alice"))
        #expect(first.resource == AuditEvent.Resource(type: "invoice", id: "inv-7"))
        #expect(first.outcome == .denied)
        #expect(first.requestID == "r-1" && first.clientAddress == "10.0.0.1" && first.userAgent == "app/1" && first.reason == "limit")
        #expect(first.before == #"{"amount":10,"tags":["a"]}"#)
        #expect(first.after == #"{"amount":12.50}"#)
        #expect(first.attributes.map(\.key) == ["app", "zone"])
        let second = events[1]
        #expect(second.actor == AuditEvent.Actor(id: "svc"))
        #expect(second.resource.id == nil && second.reason == nil && second.before == nil && second.attributes.isEmpty)
    }

    @Test func badEventsNameTheEventAndTheField() throws {
        let valid = #"{"id":"a","time":"2026-11-26T13:05:55Z","actor":{"id":"u"},"action":"x","resource":{"type":"r"},"outcome":"success"}"#
        let cases: [(String, String)] = [
            (#"{"events": 5}"#, "\"events\" array"),
            ("[\(valid), {\"id\":\"b\"}]", "events[1].time"),
            ("[" + valid.replacingOccurrences(of: #""outcome":"success""#, with: #""outcome":"ok""#) + "]", "events[0].outcome: \"ok\" is not one of"),
            ("[" + valid.replacingOccurrences(of: #""actor":{"id":"u"}"#, with: #""actor":"u""#) + "]", "events[0].actor: required, must be an object"),
            ("[" + valid.replacingOccurrences(of: #""id":"a""#, with: #""id":"\#(String(repeating: "x", count: 200))""#) + "]", "events[0].id: 200 bytes"),
            ("[" + valid.replacingOccurrences(of: #""time":"2026-11-26T13:05:55Z""#, with: #""time":1234"#) + "]", "events[0].time: expected a string"),
            ("[" + valid.dropLast() + #","attributes":{"n":1}}]"#, "events[0].attributes.n: expected a string"),
            ("[" + valid.dropLast() + #","action":""}]"#, "events[0].action: required"),
        ]
        for (body, fragment) in cases {
            let error = sightlineError { _ = try Self.decode(body) }
            #expect(error?.code == .invalidArgument, "\(body)")
            #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "no error") for \(body)")
        }
        let otherTenant = sightlineError { _ = try Self.decode("[" + valid.dropLast() + #","tenant":"globex"}]"#) }
        #expect(otherTenant?.code == .permissionDenied)
        #expect(otherTenant?.message.contains("globex") == true)
    }
}
