import Testing

@testable import SightlineCore

struct TenantBatchBinaryTests {
    private let tenant = Tenant(uncheckedID: "acme")

    private var log: LogRecord {
        LogRecord(
            timeUnixNano: 1_700_000_000_123_456_789, observedTimeUnixNano: 1_700_000_000_200_000_000, severityNumber: 17,
            severityText: "ERROR", body: .keyValueList([Attribute("msg", .string("boom")), Attribute("n", .array([.int(-3), .double(.nan)]))]),
            attributes: [Attribute("bytes", .bytes([0, 255])), Attribute("ok", .bool(false)), Attribute("none", .empty)],
            droppedAttributesCount: 2, flags: 1, traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), eventName: "e",
            resource: [Attribute("service.name", .string("api"))], scope: InstrumentationScope(name: "lib", version: "1.0"),
            stream: Labels(["app": "api", "env": "prod"])
        )
    }

    private func roundTrip(_ batch: TenantBatch) throws -> TenantBatch {
        try TenantBatch(decoding: batch.encoded())
    }

    @Test func logsRoundTrip() throws {
        let batch = TenantBatch(tenant: tenant, batch: .logs([log, LogRecord(body: .string("plain"))]))
        let decoded = try roundTrip(batch)
        // NaN inside the body compares unequal by value, so compare the encodings.
        #expect(decoded.encoded() == batch.encoded())
        guard case .logs(let records) = decoded.batch else {
            Issue.record("not logs")
            return
        }
        #expect(records[0].stream == Labels(["app": "api", "env": "prod"]))
        #expect(records[1].body == .string("plain"))
    }

    @Test func metricsAndSpansRoundTrip() throws {
        let metrics = TenantBatch(
            tenant: tenant,
            batch: .metrics(MetricBatch(
                samples: [MetricSample(labels: Labels(["__name__": "up", "job": "a"]), timestampMs: -5, value: StaleNaN.value)],
                metadata: [MetricMetadata(metricFamily: "up", kind: .gauge, help: "h", unit: "u")]
            ))
        )
        #expect(try roundTrip(metrics) == metrics)
        let span = Span(
            traceID: TraceID(high: 9, low: 8), spanID: SpanID(7), parentSpanID: SpanID(6), name: "GET /", kind: .server,
            startTimeUnixNano: 10, endTimeUnixNano: 20, events: [Span.Event(timeUnixNano: 15, name: "ev")],
            links: [Span.Link(traceID: TraceID(high: 1, low: 1), spanID: SpanID(1))], statusCode: .error, statusMessage: "bad"
        )
        let traces = TenantBatch(tenant: tenant, batch: .traces([span]))
        #expect(try roundTrip(traces) == traces)
    }

    @Test func versionOneBatchesStillDecode() throws {
        // A version-1 batch is a version-2 one without the stream labels' count after each log record.
        var bytes = TenantBatch(tenant: tenant, batch: .logs([LogRecord(body: .string("old"))])).encoded()
        #expect(bytes.last == 0)
        bytes.removeLast()
        bytes[0] = 1
        let decoded = try TenantBatch(decoding: bytes)
        guard case .logs(let records) = decoded.batch else {
            Issue.record("not logs")
            return
        }
        #expect(records == [LogRecord(body: .string("old"))])
    }

    @Test func damagedBytesAreRefused() {
        let bytes = TenantBatch(tenant: tenant, batch: .logs([log])).encoded()
        for cut in [1, 2, bytes.count / 2, bytes.count - 1] {
            #expect(throws: SightlineError.self) { try TenantBatch(decoding: Array(bytes.prefix(cut))) }
        }
        var unknownVersion = bytes
        unknownVersion[0] = 9
        #expect(throws: SightlineError.self) { try TenantBatch(decoding: unknownVersion) }
    }
}
