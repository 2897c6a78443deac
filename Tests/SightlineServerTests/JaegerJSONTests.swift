import SightlineCore
import Testing

@testable import SightlineServer

struct JaegerJSONTests {
    static let trace = TraceID(high: 0, low: 0xD8E1_A0B3_C9D2_F4E5)
    static let root = Span(
        traceID: trace, spanID: SpanID(1), name: "GET /cart", kind: .server, startTimeUnixNano: 1_700_000_000_123_456_789,
        endTimeUnixNano: 1_700_000_000_133_456_789,
        attributes: [
            Attribute("http.status_code", .int(500)), Attribute("cache", .bool(false)), Attribute("ratio", .double(0.5)),
            Attribute("raw", .bytes([1, 2, 3])), Attribute("ids", .array([.int(1), .int(2)])),
        ],
        events: [Span.Event(timeUnixNano: 1_700_000_000_124_000_000, name: "exception", attributes: [Attribute("exception.type", .string("IOError"))])],
        statusCode: .error, statusMessage: "upstream \"failed\"",
        resource: [Attribute("service.name", .string("frontend")), Attribute("host.name", .string("web-1"))],
        scope: InstrumentationScope(name: "io.opentelemetry.http", version: "1.2"))
    static let child = Span(
        traceID: trace, spanID: SpanID(2), parentSpanID: SpanID(1), traceState: "k=v", name: "SELECT", kind: .client,
        startTimeUnixNano: 1_700_000_000_124_000_000, endTimeUnixNano: 1_700_000_000_125_000_000,
        links: [Span.Link(traceID: TraceID(high: 1, low: 2), spanID: SpanID(3))], statusCode: .ok,
        resource: [Attribute("service.name", .string("db"))])

    @Test func traceGoldenShape() {
        let json = JaegerJSON.traces([[Self.root, Self.child]])
        let expected =
            #"{"data":[{"traceID":"d8e1a0b3c9d2f4e5","spans":["#
            + #"{"traceID":"d8e1a0b3c9d2f4e5","spanID":"0000000000000001","flags":0,"operationName":"GET /cart","references":[],"#
            + #""startTime":1700000000123456,"duration":10000,"tags":["#
            + #"{"key":"otel.scope.name","type":"string","value":"io.opentelemetry.http"},"#
            + #"{"key":"otel.scope.version","type":"string","value":"1.2"},"#
            + #"{"key":"http.status_code","type":"int64","value":500},{"key":"cache","type":"bool","value":false},"#
            + #"{"key":"ratio","type":"float64","value":0.5},{"key":"raw","type":"binary","value":"AQID"},"#
            + #"{"key":"ids","type":"string","value":"[1,2]"},{"key":"span.kind","type":"string","value":"server"},"#
            + #"{"key":"otel.status_code","type":"string","value":"ERROR"},{"key":"error","type":"bool","value":true},"#
            + #"{"key":"otel.status_description","type":"string","value":"upstream \"failed\""}],"#
            + #""logs":[{"timestamp":1700000000124000,"fields":[{"key":"event","type":"string","value":"exception"},"#
            + #"{"key":"exception.type","type":"string","value":"IOError"}]}],"processID":"p1","warnings":null},"#
            + #"{"traceID":"d8e1a0b3c9d2f4e5","spanID":"0000000000000002","flags":0,"operationName":"SELECT","references":["#
            + #"{"refType":"CHILD_OF","traceID":"d8e1a0b3c9d2f4e5","spanID":"0000000000000001"},"#
            + #"{"refType":"FOLLOWS_FROM","traceID":"00000000000000010000000000000002","spanID":"0000000000000003"}],"#
            + #""startTime":1700000000124000,"duration":1000,"tags":[{"key":"span.kind","type":"string","value":"client"},"#
            + #"{"key":"otel.status_code","type":"string","value":"OK"},{"key":"w3c.tracestate","type":"string","value":"k=v"}],"#
            + #""logs":[],"processID":"p2","warnings":null}],"#
            + #""processes":{"p1":{"serviceName":"frontend","tags":[{"key":"host.name","type":"string","value":"web-1"}]},"#
            + #""p2":{"serviceName":"db","tags":[]}},"warnings":null}],"total":1,"limit":0,"offset":0,"errors":null}"#
        #expect(json == expected)
    }

    @Test func listsAndErrors() {
        #expect(JaegerJSON.traces([]) == #"{"data":[],"total":0,"limit":0,"offset":0,"errors":null}"#)
        #expect(JaegerJSON.strings(["api", "db"]) == #"{"data":["api","db"],"total":2,"limit":0,"offset":0,"errors":null}"#)
        #expect(
            JaegerJSON.operations([TraceOperation(name: "GET /", kind: .server), TraceOperation(name: "work", kind: .unspecified)])
                == #"{"data":[{"name":"GET /","spanKind":"server"},{"name":"work","spanKind":""}],"total":2,"limit":0,"offset":0,"errors":null}"#)
        #expect(
            JaegerJSON.dependencies([DependencyLink(parent: "api", child: "db", callCount: 3)])
                == #"{"data":[{"parent":"api","child":"db","callCount":3}],"total":1,"limit":0,"offset":0,"errors":null}"#)
        #expect(
            JaegerJSON.error(code: 404, message: "trace not found")
                == #"{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]}"#)
    }

    @Test func traceIDsParseAndPrintAsJaegerDoes() {
        #expect(JaegerJSON.traceID(TraceID(high: 0, low: 0xABC)) == "0000000000000abc")
        #expect(JaegerJSON.traceID(TraceID(high: 1, low: 0xABC)) == "00000000000000010000000000000abc")
        #expect(JaegerJSON.parseTraceID("abc") == TraceID(high: 0, low: 0xABC))
        #expect(JaegerJSON.parseTraceID("00000000000000010000000000000ABC") == TraceID(high: 1, low: 0xABC))
        #expect(JaegerJSON.parseTraceID("") == nil)
        #expect(JaegerJSON.parseTraceID("xyz") == nil)
        #expect(JaegerJSON.parseTraceID(String(repeating: "1", count: 33)) == nil)
    }
}
