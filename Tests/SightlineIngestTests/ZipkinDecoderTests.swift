import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineIngest

struct ZipkinDecoderTests {
    /// Two spans as py-zipkin's v2 JSON encoder writes them: a server span with a shared id and a client child.
    static let pyZipkinBody = """
        [{"traceId": "d8e1a0b3c9d2f4e5", "name": "get /api/users", "parentId": "1a2b3c4d5e6f7a8b", "id": "9f8e7d6c5b4a3921",
          "timestamp": 1700000000123456, "duration": 15234, "debug": false, "shared": true,
          "localEndpoint": {"serviceName": "user-service", "ipv4": "10.1.2.3", "port": 8000},
          "kind": "SERVER", "remoteEndpoint": {"ipv4": "10.1.2.9", "port": 54321},
          "annotations": [{"timestamp": 1700000000124000, "value": "cache.miss"}],
          "tags": {"http.method": "GET", "http.status_code": "200", "http.uri": "/api/users"}},
         {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "name": "select", "parentId": "9f8e7d6c5b4a3921", "id": "00f067aa0ba902b7",
          "timestamp": 1700000000125000, "duration": 3000, "kind": "CLIENT",
          "localEndpoint": {"serviceName": "user-service", "ipv6": "2001:db8::1"},
          "remoteEndpoint": {"serviceName": "postgres", "ipv4": "10.1.5.5", "port": 5432},
          "tags": {"error": "connection refused", "otel.library.name": "psycopg", "otel.library.version": "3.1", "db.statement": "SELECT 1"},
          "annotations": []}]
        """

    func decode(_ text: String) throws -> [Span] {
        let decoded = try ZipkinDecoder.decode(json: Array(text.utf8))
        guard case .traces(let spans) = decoded.batch else {
            Issue.record("not a traces batch")
            return []
        }
        #expect(decoded.rejected == 0)
        return spans
    }

    @Test func pyZipkinSpansMapLikeTheCollector() throws {
        let spans = try decode(Self.pyZipkinBody)
        #expect(spans.count == 2)
        let server = Span(
            traceID: TraceID(high: 0, low: 0xD8E1_A0B3_C9D2_F4E5), spanID: SpanID(0x9F8E_7D6C_5B4A_3921), parentSpanID: SpanID(0x1A2B_3C4D_5E6F_7A8B),
            name: "get /api/users", kind: .server, startTimeUnixNano: 1_700_000_000_123_456_000, endTimeUnixNano: 1_700_000_000_138_690_000,
            attributes: [
                Attribute("http.method", .string("GET")), Attribute("http.status_code", .string("200")), Attribute("http.uri", .string("/api/users")),
                Attribute("net.host.ip", .string("10.1.2.3")), Attribute("net.host.port", .int(8000)),
                Attribute("net.peer.ip", .string("10.1.2.9")), Attribute("net.peer.port", .int(54321)),
            ],
            events: [Span.Event(timeUnixNano: 1_700_000_000_124_000_000, name: "cache.miss")],
            resource: [Attribute("service.name", .string("user-service"))])
        #expect(spans[0] == server)

        let client = spans[1]
        #expect(client.traceID == TraceID(hex: "4bf92f3577b34da6a3ce929d0e0e4736"))
        #expect(client.spanID == SpanID(0x00F0_67AA_0BA9_02B7))
        #expect(client.kind == .client)
        #expect(client.statusCode == .error)
        #expect(client.statusMessage == "connection refused")
        #expect(client.scope == InstrumentationScope(name: "psycopg", version: "3.1"))
        #expect(client.attributes == [
            Attribute("db.statement", .string("SELECT 1")), Attribute("net.host.ip", .string("2001:db8::1")),
            Attribute("peer.service", .string("postgres")), Attribute("net.peer.ip", .string("10.1.5.5")), Attribute("net.peer.port", .int(5432)),
        ])
        #expect(client.serviceName == "user-service")
    }

    @Test func optionalFieldsAndSpecialTags() throws {
        let spans = try decode(
            """
            [{"traceId":"0000000000000001","id":"a","name":"work","tags":{"span.kind":"internal","error":"true","w3c.tracestate":"k=v"},
              "parentId":"a"},
             {"traceId":"0000000000000001","id":"b","parentId":null,"timestamp":5,"kind":null,"localEndpoint":null,
              "tags":{"otel.status_code":"OK","otel.scope.name":"lib","count":3,"flag":false}}]
            """)
        #expect(spans[0].spanID == SpanID(10))
        #expect(spans[0].parentSpanID == nil)
        #expect(spans[0].kind == .internal)
        #expect(spans[0].statusCode == .error)
        #expect(spans[0].statusMessage == "")
        #expect(spans[0].traceState == "k=v")
        #expect(spans[0].resource.isEmpty)
        #expect(spans[0].serviceName == Span.unknownService)
        #expect(spans[0].startTimeUnixNano == 0)
        #expect(spans[0].attributes == [Attribute("otel.zipkin.absentField.startTime", .bool(true))])
        #expect(spans[1].statusCode == .ok)
        #expect(spans[1].scope.name == "lib")
        #expect(spans[1].kind == .unspecified)
        #expect(spans[1].startTimeUnixNano == 5000)
        #expect(spans[1].endTimeUnixNano == 5000)
        #expect(spans[1].attributes == [Attribute("count", .string("3")), Attribute("flag", .string("false"))])
        #expect(try decode("[]").isEmpty)
    }

    @Test func badInputNamesTheField() {
        let cases: [(String, String)] = [
            (#"{"traceId":"1"}"#, "malformed Zipkin v2 JSON: the body must be a JSON array of spans, not object"),
            (#"[1]"#, "at spans[0]: a span must be an object, not number"),
            (#"[{"id":"1"}]"#, "at spans[0].traceId: missing"),
            (#"[{"id":"1","traceId":"abc"},{}]"#, "at spans[0].traceId: expected 16 or 32 hex digits, got \"abc\""),
            (#"[{"id":"1","traceId":"000000000000000000000000000000zz"}]"#, "at spans[0].traceId: expected 16 or 32 hex digits"),
            (#"[{"id":"1","traceId":"00000000000000000000000000000000"}]"#, "at spans[0].traceId: the trace id is all zeros"),
            (#"[{"traceId":"0000000000000001"}]"#, "at spans[0].id: missing id"),
            (#"[{"traceId":"0000000000000001","id":"00000000000000001"}]"#, "at spans[0].id: expected 1 to 16 hex digits"),
            (#"[{"traceId":"0000000000000001","id":"1","parentId":7}]"#, "at spans[0].parentId: expected a hex string, not number"),
            (#"[{"traceId":"0000000000000001","id":"1","kind":"SERVERS"}]"#, "at spans[0].kind: expected CLIENT, SERVER, PRODUCER or CONSUMER"),
            (#"[{"traceId":"0000000000000001","id":"1","timestamp":-5}]"#, "at spans[0].timestamp: expected a non-negative integer of microseconds, got -5"),
            (#"[{"traceId":"0000000000000001","id":"1","duration":"5"}]"#, "at spans[0].duration: expected a number of microseconds, not string"),
            (#"[{"traceId":"0000000000000001","id":"1","timestamp":18446744073709551,"duration":1000}]"#, "at spans[0].duration: 1000 µs is out of range"),
            (#"[{"traceId":"0000000000000001","id":"1","timestamp":18446744073709552}]"#, "at spans[0].timestamp: 18446744073709552 µs is out of range"),
            (#"[{"traceId":"0000000000000001","id":"1","tags":{"a":{"b":1}}}]"#, "at spans[0].tags.a: expected a string, not object"),
            (#"[{"traceId":"0000000000000001","id":"1","localEndpoint":{"port":70000}}]"#, "at spans[0].localEndpoint.port: expected a port number"),
            (#"[{"traceId":"0000000000000001","id":"1","remoteEndpoint":"db"}]"#, "at spans[0].remoteEndpoint: expected an object, not string"),
            (#"[{"traceId":"0000000000000001","id":"1","annotations":[{"value":"x"}]}]"#, "at spans[0].annotations[0].timestamp: missing"),
            (#"[{"traceId":"0000000000000001","id":"1","debug":"yes"}]"#, "at spans[0].debug: expected true or false, not string"),
            (#"[{"traceId":"#, "invalid JSON"),
        ]
        for (body, message) in cases {
            let error = sightlineError { _ = try ZipkinDecoder.decode(json: Array(body.utf8)) }
            #expect(error?.code == .invalidArgument, "\(body)")
            #expect(error?.message.contains(message) == true, "\(body): \(error?.message ?? "no error")")
        }
    }

    @Test func damagedBodiesNeverTrap() {
        var random = SplitMix64(seed: 11)
        let bytes = Array(Self.pyZipkinBody.utf8)
        for _ in 0..<300 {
            var damaged = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
            if !damaged.isEmpty { damaged[Int.random(in: 0..<damaged.count, using: &random)] = UInt8.random(in: 0x20...0x7E, using: &random) }
            expectDecodesOrFails(with: .invalidArgument) { _ = try ZipkinDecoder.decode(json: damaged) }
        }
    }
}
