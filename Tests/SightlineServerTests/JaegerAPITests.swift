import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SightlineTestSupport
import SightlineTraceStore
import Testing

@testable import SightlineCore
@testable import SightlineServer

/// The Jaeger query routes over a real trace store, and the Zipkin collector route through the pipeline.
struct JaegerAPITests {
    static let start: UInt64 = 1_700_000_000_000_000_000

    static func spans() -> [Span] {
        let root = Span(
            traceID: TraceID(high: 0, low: 0xABC), spanID: SpanID(1), name: "GET /cart", kind: .server, startTimeUnixNano: start,
            endTimeUnixNano: start + 50_000_000, attributes: [Attribute("http.status_code", .int(500))], statusCode: .error,
            resource: [Attribute("service.name", .string("frontend"))])
        let child = Span(
            traceID: TraceID(high: 0, low: 0xABC), spanID: SpanID(2), parentSpanID: SpanID(1), name: "SELECT", kind: .client,
            startTimeUnixNano: start + 1_000_000, endTimeUnixNano: start + 2_000_000, resource: [Attribute("service.name", .string("db"))])
        let other = Span(
            traceID: TraceID(high: 0, low: 0xDEF), spanID: SpanID(3), name: "GET /", kind: .server, startTimeUnixNano: start + 5_000_000_000,
            endTimeUnixNano: start + 5_001_000_000, resource: [Attribute("service.name", .string("frontend"))])
        return [root, child, other]
    }

    /// A client of the server's router, with `spans` ingested through the pipeline into its trace store.
    func withClient(_ body: (RouterClient, ServerHarness) async throws -> Void) async throws {
        let harness = try ServerHarness()
        do {
            _ = try await harness.api.pipeline.ingest(DecodedBatch(.traces(Self.spans())), tenant: .default, protocol: "test", bytes: 0)
            try await body(harness.client(), harness)
        }
        await harness.cleanUp()
    }

    func json(_ reply: RouterClient.Reply) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(reply.body.readableBytesView))) as? [String: Any] ?? [:]
    }

    func traceIDs(_ reply: RouterClient.Reply) -> [String] {
        (json(reply)["data"] as? [[String: Any]] ?? []).compactMap { $0["traceID"] as? String }
    }

    @Test func servicesOperationsAndDependencies() async throws {
        try await withClient { client, _ in
            try await client.execute("/api/services").check {
                #expect($0.status == .ok)
                #expect(String(buffer: $0.body) == #"{"data":["db","frontend"],"total":2,"limit":0,"offset":0,"errors":null}"#)
            }
            try await client.execute("/api/services/frontend/operations").check {
                #expect(json($0)["data"] as? [String] == ["GET /", "GET /cart"])
            }
            try await client.execute("/api/operations?service=db&spanKind=client").check {
                #expect(String(buffer: $0.body).hasPrefix(#"{"data":[{"name":"SELECT","spanKind":"client"}]"#))
            }
            try await client.execute("/api/operations").check {
                #expect($0.status == .badRequest)
                #expect(String(buffer: $0.body).contains(#""errors":[{"code":400,"msg":"parameter 'service' is required"}]"#))
            }
            try await client.execute("/api/dependencies?endTs=1700000010000&lookback=60000").check {
                #expect(String(buffer: $0.body).hasPrefix(#"{"data":[{"parent":"frontend","child":"db","callCount":1}]"#))
            }
        }
    }

    @Test func tracesByIDAndSearch() async throws {
        try await withClient { client, _ in
            try await client.execute("/api/traces/abc").check {
                #expect($0.status == .ok)
                #expect(traceIDs($0) == ["0000000000000abc"])
                let spans = (json($0)["data"] as? [[String: Any]])?.first?["spans"] as? [[String: Any]]
                #expect(spans?.count == 2)
            }
            try await client.execute("/api/traces/0000000000000123").check {
                #expect($0.status == .notFound)
                #expect(String(buffer: $0.body).contains(#""msg":"trace not found""#))
            }
            try await client.execute("/api/traces/xyz").check { #expect($0.status == .badRequest) }
            let window = "start=\(Self.start / 1000 - 1)&end=\(Self.start / 1000 + 10_000_000)"
            try await client.execute("/api/traces?service=frontend&\(window)").check { #expect(traceIDs($0) == ["0000000000000def", "0000000000000abc"]) }
            try await client.execute("/api/traces?service=frontend&\(window)&limit=1").check { #expect(traceIDs($0) == ["0000000000000def"]) }
            let tags = "%7B%22error%22%3A%22true%22%7D"
            try await client.execute("/api/traces?service=frontend&tags=\(tags)&\(window)").check { #expect(traceIDs($0) == ["0000000000000abc"]) }
            try await client.execute("/api/traces?service=frontend&tag=http.status_code:500&\(window)").check { #expect(traceIDs($0) == ["0000000000000abc"]) }
            try await client.execute("/api/traces?service=frontend&minDuration=10ms&\(window)").check { #expect(traceIDs($0) == ["0000000000000abc"]) }
            try await client.execute("/api/traces?service=frontend&operation=GET%20%2F&\(window)").check { #expect(traceIDs($0) == ["0000000000000def"]) }
            try await client.execute("/api/traces?traceID=abc&traceID=def&traceID=123").check { #expect(traceIDs($0) == ["0000000000000abc", "0000000000000def"]) }
            try await client.execute("/api/traces?\(window)").check { #expect($0.status == .badRequest) }
            try await client.execute("/api/traces?service=frontend&minDuration=5x").check {
                #expect($0.status == .badRequest)
                #expect(String(buffer: $0.body).contains("minDuration"))
            }
            try await client.execute("/api/traces?service=frontend&minDuration=2s&maxDuration=1s").check { #expect($0.status == .badRequest) }
        }
    }

    /// Tempo's routes over the same store: TraceQL and the older tag search, the window, limits, and bad input.
    @Test func tempoSearch() async throws {
        try await withClient { client, _ in
            let window = "start=\(Self.start / 1_000_000_000 - 1)&end=\(Self.start / 1_000_000_000 + 10)"
            func ids(_ reply: RouterClient.Reply) -> [String] {
                (json(reply)["traces"] as? [[String: Any]] ?? []).compactMap { $0["traceID"] as? String }
            }
            let frontend = "q=%7B%20resource.service.name%20%3D%20%22frontend%22%20%7D"  // { resource.service.name = "frontend" }
            try await client.execute("/api/search?\(frontend)&\(window)").check {
                #expect($0.status == .ok)
                #expect(ids($0) == ["00000000000000000000000000000def", "00000000000000000000000000000abc"])
                let first = (json($0)["traces"] as? [[String: Any]])?.last
                #expect(first?["rootServiceName"] as? String == "frontend" && first?["durationMs"] as? Int == 50)
                #expect((json($0)["metrics"] as? [String: Any])?["inspectedTraces"] as? Int == 2)
            }
            try await client.execute("/api/search?\(frontend)&\(window)&limit=1").check { #expect(ids($0) == ["00000000000000000000000000000def"]) }
            try await client.execute("/api/search?\(frontend)&\(window)&minDuration=10ms").check { #expect(ids($0) == ["00000000000000000000000000000abc"]) }
            try await client.execute("/api/search?tags=service.name%3Ddb&\(window)").check { #expect(ids($0) == ["00000000000000000000000000000abc"]) }
            try await client.execute("/api/search?\(frontend)&start=\(Self.start / 1_000_000_000 + 3)&end=\(Self.start / 1_000_000_000 + 10)").check {
                #expect(ids($0) == ["00000000000000000000000000000def"])
            }
            try await client.execute("/api/search?q=%7B%20kind%20%3D%20%7D&\(window)").check {
                #expect($0.status == .badRequest)
                #expect(String(buffer: $0.body) == "TraceQL: 1:10: expected a field or a value\n")
            }
            try await client.execute("/api/search?tags=%22x&\(window)").check { #expect($0.status == .badRequest) }
            try await client.execute("/api/search?start=99999999999999999&end=99999999999999999").check {
                #expect($0.status == .ok && ids($0).isEmpty)
            }
            try await client.execute("/api/v2/search/tags?start=99999999999999999").check { #expect($0.status == .ok) }
            try await client.execute("/api/v2/search/tags?scope=links").check { #expect($0.status == .badRequest) }
            try await client.execute("/api/v2/search/tags?scope=intrinsic").check {
                let scopes = json($0)["scopes"] as? [[String: Any]]
                #expect(scopes?.count == 1 && (scopes?.first?["tags"] as? [String])?.contains("trace:rootService") == true)
            }
            try await client.execute("/api/v2/search/tags?scope=none").check { #expect($0.status == .ok) }
            try await client.execute("/api/v2/search/tag/nosuch/values").check { #expect($0.status == .badRequest) }
        }
        #expect(try TempoAPIHandler.traceQL(fromTags: #"service.name=api  http.route="/a b""#) == #"{ .service.name = "api" && .http.route = "/a b" }"#)
    }

    @Test func zipkinSpansAreIngested() async throws {
        try await withClient { client, harness in
            let body = #"[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","id":"00f067aa0ba902b7","name":"get","kind":"SERVER","timestamp":1700000000000000,"duration":5,"localEndpoint":{"serviceName":"py"}}]"#
            try await client.execute("/api/v2/spans", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)).check {
                #expect($0.status == .accepted)
            }
            let id = try #require(TraceID(hex: "4bf92f3577b34da6a3ce929d0e0e4736"))
            let stored = try harness.api.spans.trace(tenant: .default, id: id)
            #expect(stored.map(\.serviceName) == ["py"])
            try await client.execute("/api/v2/spans", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "[{}]")).check {
                #expect($0.status == .badRequest)
                #expect(String(buffer: $0.body).contains("spans[0].traceId"))
            }
            try await client.execute("/api/v2/spans", method: .post, headers: [.contentType: "application/x-protobuf"], body: ByteBuffer(string: "x")).check {
                #expect($0.status == .unsupportedMediaType)
            }
        }
    }

    @Test func goDurations() {
        #expect(JaegerParameters.parseGoDuration("1.5s") == 1_500_000_000)
        #expect(JaegerParameters.parseGoDuration("2h45m") == 9_900_000_000_000)
        #expect(JaegerParameters.parseGoDuration("250us") == 250_000)
        #expect(JaegerParameters.parseGoDuration("0") == 0)
        #expect(JaegerParameters.parseGoDuration("10") == nil)
        #expect(JaegerParameters.parseGoDuration("-1s") == nil)
        #expect(JaegerParameters.parseGoDuration("") == nil)
    }
}
