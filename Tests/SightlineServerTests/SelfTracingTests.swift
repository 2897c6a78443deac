import HTTPTypes
import Instrumentation
import NIOCore
import Tracing
import Testing

@testable import SightlineCore
@testable import SightlineServer

struct SelfTracingTests {
    @Test(arguments: [
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future", true),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", false),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", false),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false),
        ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", false),
        ("garbage", false),
    ])
    func traceparentHeaders(header: String, valid: Bool) {
        let parsed = TraceParent(header: header)
        #expect((parsed != nil) == valid)
        if let parsed, header.hasPrefix("00") {
            #expect(parsed.header == header)
        }
    }

    @Test func requestsGetServerSpansThatContinueTheCallersTrace() async throws {
        var harness = try ServerHarness()
        let tracer = SelfTracer(resource: [Attribute("service.name", .string("sightline"))])
        harness.api.selfTracer = tracer
        let client = harness.client()
        let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        _ = try await client.execute("/api/v1/labels", headers: [HTTPField.Name("traceparent")!: caller])
        _ = try await client.execute("/api/v1/label/job/values")
        _ = try await client.execute("/-/ready")
        _ = try await client.execute("/loki/api/v1/push", method: .post, body: .init(string: "{}"))
        let (spans, dropped) = tracer.drain()
        #expect(dropped == 0)
        #expect(spans.map(\.name) == ["GET /api/v1/labels", "GET /api/v1/label/{name}/values"])
        let first = spans[0]
        #expect(first.traceID.description == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(first.parentSpanID?.description == "00f067aa0ba902b7")
        #expect(first.kind == .server)
        #expect(first.attributes.contains(Attribute("http.response.status_code", .int(200))))
        #expect(first.resource == [Attribute("service.name", .string("sightline"))])
        #expect(spans[1].parentSpanID == nil)
        #expect(spans[1].traceID != first.traceID)
        await harness.cleanUp()
    }

    @Test func ingestionRoutesAreTracedOnlyWhenAsked() async throws {
        var harness = try ServerHarness()
        let tracer = SelfTracer(resource: [])
        harness.api.selfTracer = tracer
        harness.api.selfTracingIngest = true
        _ = try await harness.client().execute("/loki/api/v1/push", method: .post, headers: [.contentType: "application/json"], body: .init(string: "{\"streams\":[]}"))
        #expect(tracer.drain().spans.map(\.name) == ["POST /loki/api/v1/push"])
        await harness.cleanUp()
    }

    @Test func aFullBufferDropsAndCounts() {
        let tracer = SelfTracer(resource: [], capacity: 2)
        for name in ["a", "b", "c"] { tracer.startSpan(name, context: .topLevel, ofKind: .internal).end() }
        let (spans, dropped) = tracer.drain()
        #expect(spans.map(\.name) == ["a", "b"])
        #expect(dropped == 1)
        #expect(tracer.drain().spans.isEmpty)
    }
}
