import AuditKit
import Foundation
import Testing

/// The event's JSON must be exactly the wire contract's: snake_case keys, RFC 3339 UTC time, optionals left out.
@Suite struct AuditEventTests {
    /// 2026-11-26T13:05:55.123456Z.
    static let time = Date(timeIntervalSince1970: 1_795_698_355.123456)

    func object(_ event: AuditEvent) throws -> [String: Any] {
        let parsed = try JSONSerialization.jsonObject(with: Data(event.jsonBytes()))
        return try #require(parsed as? [String: Any])
    }

    @Test func fullEventUsesTheContractsKeys() throws {
        let event = AuditEvent(
            id: "0192f3c4-7a1b-7cde-8f00-0123456789ab",
            tenant: "acme",
            time: Self.time,
            actor: .init(id: "u-1", type: "user", display: "Alice"),
            action: "invoice.update",
            resource: .init(type: "invoice", id: "inv-7"),
            outcome: .denied,
            requestID: "req-1",
            clientAddress: "10.0.0.1",
            userAgent: "curl/8",
            reason: "not allowed",
            before: ["amount_cents": 100, "paid": false, "tags": ["a", nil], "rate": 1.5],
            after: .string("gone"),
            attributes: ["b": "2", "a": "1"]
        )
        let json = try object(event)
        #expect(
            Set(json.keys)
                == [
                    "id", "tenant", "time", "actor", "action", "resource", "outcome", "request_id", "client_address",
                    "user_agent", "reason", "before", "after", "attributes",
                ]
        )
        #expect(json["id"] as? String == "0192f3c4-7a1b-7cde-8f00-0123456789ab")
        #expect(json["tenant"] as? String == "acme")
        #expect(json["time"] as? String == "2026-11-26T13:05:55.123456Z")
        #expect(json["actor"] as? [String: String] == ["id": "u-1", "type": "user", "display": "Alice"])
        #expect(json["action"] as? String == "invoice.update")
        #expect(json["resource"] as? [String: String] == ["type": "invoice", "id": "inv-7"])
        #expect(json["outcome"] as? String == "denied")
        #expect(json["request_id"] as? String == "req-1")
        #expect(json["client_address"] as? String == "10.0.0.1")
        #expect(json["user_agent"] as? String == "curl/8")
        #expect(json["reason"] as? String == "not allowed")
        #expect(json["after"] as? String == "gone")
        #expect(json["attributes"] as? [String: String] == ["a": "1", "b": "2"])
        let before = try #require(json["before"] as? [String: Any])
        #expect((before["amount_cents"] as? NSNumber)?.intValue == 100)
        #expect((before["rate"] as? NSNumber)?.doubleValue == 1.5)
        // Keys are written sorted, so the text is stable.
        #expect(event.jsonText().contains(#""before":{"amount_cents":100,"paid":false,"rate":1.5,"tags":["a",null]}"#))
        #expect(event.jsonText().contains(#""attributes":{"a":"1","b":"2"}"#))
    }

    @Test func absentOptionalsAreLeftOut() throws {
        let event = AuditEvent(
            tenant: "acme", time: Self.time, actor: .init(id: "u-1"), action: "invoice.create", resource: .init(type: "invoice")
        )
        let json = try object(event)
        #expect(Set(json.keys) == ["id", "tenant", "time", "actor", "action", "resource", "outcome"])
        #expect(json["actor"] as? [String: String] == ["id": "u-1"])
        #expect(json["resource"] as? [String: String] == ["type": "invoice"])
        #expect(json["outcome"] as? String == "success")
    }

    @Test func timeIsRFC3339UTCWithMicroseconds() throws {
        let cases: [(Double, String)] = [
            (0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400.5, "2000-02-29T00:00:00.500000Z"),
            (1_795_698_355.000001, "2026-11-26T13:05:55.000001Z"),
            (-1.25, "1969-12-31T23:59:58.750000Z"),
            (4_102_444_799.999999, "2099-12-31T23:59:59.999999Z"),
        ]
        for (seconds, text) in cases {
            let event = AuditEvent(
                tenant: "t", time: Date(timeIntervalSince1970: seconds), actor: .init(id: "a"), action: "x", resource: .init(type: "r")
            )
            #expect(try object(event)["time"] as? String == text)
        }
    }

    @Test func stringsAreEscaped() throws {
        let tricky = "quote\" backslash\\ newline\n tab\t bell\u{07} é 😀"
        let event = AuditEvent(
            tenant: "t", time: Self.time, actor: .init(id: tricky), action: "x", resource: .init(type: "r"), attributes: [tricky: tricky]
        )
        let json = try object(event)
        #expect((json["actor"] as? [String: String])?["id"] == tricky)
        #expect(json["attributes"] as? [String: String] == [tricky: tricky])
    }

    @Test func idsAreLowercaseTimeOrderedUUIDv7() throws {
        let first = AuditEvent.makeID()
        let pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
        #expect(first.wholeMatch(of: pattern) != nil)
        var seen: Set<String> = [first]
        for _ in 0..<1000 { seen.insert(AuditEvent.makeID()) }
        #expect(seen.count == 1001)
        // The first 48 bits are the Unix time in milliseconds.
        let millis = UInt64(first.replacingOccurrences(of: "-", with: "").prefix(12), radix: 16) ?? 0
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        #expect(millis <= now && now - millis < 3_600_000)
    }

    @Test func validationNamesWhatIsWrong() throws {
        var event = AuditEvent(tenant: "t", actor: .init(id: "a"), action: "x", resource: .init(type: "r"))
        try event.validate()
        event.action = ""
        #expect(throws: AuditKitError.self) { try event.validate() }
        do {
            try event.validate()
        } catch {
            #expect(error.code == .invalidEvent)
            #expect(error.message.contains("action"))
        }
        event.action = "x"
        event.id = String(repeating: "x", count: 129)
        #expect(throws: AuditKitError.self) { try event.validate() }
        event.id = "ok"
        event.tenant = ""
        #expect(throws: AuditKitError.self) { try event.validate() }
        event.tenant = "t"
        event.reason = String(repeating: "r", count: 4097)
        #expect(throws: AuditKitError.self) { try event.validate() }
        event.reason = String(repeating: "r", count: 4096)
        try event.validate()
        event.attributes = Dictionary(uniqueKeysWithValues: (0..<65).map { ("k\($0)", "v") })
        #expect(throws: AuditKitError.self) { try event.validate() }
        event.attributes.removeValue(forKey: "k0")
        try event.validate()
    }

    @Test func jsonValuesRoundTripAndConvertFromEncodable() throws {
        struct Invoice: Encodable {
            var id = "inv-1"
            var amountCents = 1200
            var paid = true
        }
        let value = try AuditJSON(encoding: Invoice())
        #expect(value == ["id": "inv-1", "amountCents": 1200, "paid": true])
        #expect(try AuditJSON(parsing: #"{"a":[1,2.5,"x",null,false]}"#) == ["a": [1, 2.5, "x", nil, false]])
        #expect(AuditJSON.double(.nan).jsonText == "null")
        #expect(throws: (any Error).self) { try AuditJSON(parsing: "{not json") }
    }
}
