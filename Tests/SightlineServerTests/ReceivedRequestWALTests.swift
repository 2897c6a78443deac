import HTTPTypes
import NIOCore
import SightlineIngest
import Testing

@testable import SightlineCore
@testable import SightlineServer

/// Log and trace requests (Loki push, OTLP, `_bulk`) are logged in the WAL as they came (``ReceivedRequest``) when
/// nothing of them was refused or changed, and WAL replay decodes them again into the records the store held before
/// the crash.
struct ReceivedRequestWALTests {
    private static let json = #"""
        {"streams":[{"stream":{"app":"api","env":"prod"},"values":[["1700000000000000000","first line",{"trace_id":"t1"}],["1700000000000000001","second line"]]},
        {"stream":{"app":"db"},"values":[["1700000000000000002","third \"quoted\" line \u00e9",{"level":"error","user":"u1"}]]}]}
        """#

    /// A Snappy-compressed `logproto.PushRequest` with one stream.
    private static func protobuf(_ lines: [String]) -> [UInt8] {
        var writer = ProtobufWriter()
        writer.writeMessage(1) { stream in
            stream.writeString(1, #"{job="promtail"}"#)
            for (offset, line) in lines.enumerated() {
                stream.writeMessage(2) { entry in
                    entry.writeMessage(1) { $0.writeInt64(1, 1_700_000_100 + Int64(offset)) }
                    entry.writeString(2, line)
                }
            }
        }
        return Snappy.compress(writer.bytes)
    }

    private static func stored(_ harness: ServerHarness) throws -> [LogRecord] {
        try harness.api.logs.logs(tenant: .default, in: .all, limit: .max).sorted { ($0.timeUnixNano, $0.body.text) < ($1.timeUnixNano, $1.body.text) }
    }

    private static func post(_ harness: ServerHarness, _ path: String, _ body: [UInt8], contentType: String) async throws -> HTTPResponse.Status {
        var status = HTTPResponse.Status.internalServerError
        try await harness.client().execute(path, method: .post, headers: [.contentType: contentType], body: ByteBuffer(bytes: body)).check {
            status = $0.status
        }
        return status
    }

    private static func push(_ harness: ServerHarness, _ body: [UInt8], contentType: String) async throws -> HTTPResponse.Status {
        try await post(harness, "/loki/api/v1/push", body, contentType: contentType)
    }

    @Test func pushesAreLoggedAsTheyCameAndReplayToTheSameRecords() async throws {
        let harness = try ServerHarness()
        #expect(try await Self.push(harness, Array(Self.json.utf8), contentType: "application/json") == .noContent)
        #expect(try await Self.push(harness, Self.protobuf(["four", "five"]), contentType: "application/x-protobuf") == .noContent)
        let before = try Self.stored(harness)
        #expect(before.count == 5)
        #expect(before.allSatisfy { $0.observedTimeUnixNano > 0 })
        try await harness.crash()

        let reopened = try ServerHarness(replay: false, reopening: harness.temporary)
        #expect(try reopened.walRecordKinds() == [BatchDeduplicator.requestMarker, BatchDeduplicator.requestMarker])
        try reopened.api.pipeline.replayAndOpen()
        #expect(try Self.stored(reopened) == before)
        await reopened.cleanUp()
    }

    @Test func otlpExportsOfLogsAndSpansAreLoggedAsTheyCameAndReplayToTheSameRecords() async throws {
        let harness = try ServerHarness()
        let records = (0..<3).map { index in
            LogRecord(
                timeUnixNano: 1_700_000_000_000_000_000 + UInt64(index), observedTimeUnixNano: 1_700_000_000_500_000_000,
                severityNumber: 9, severityText: "INFO", body: .string("otlp line \(index)"),
                attributes: [Attribute("user", .int(Int64(index)))], resource: [Attribute("service.name", .string("api"))])
        }
        let spans = (0..<2).map { index in
            Span(
                traceID: TraceID(high: 7, low: UInt64(index + 1)), spanID: SpanID(UInt64(index + 100)), name: "GET /items/\(index)",
                startTimeUnixNano: 1_700_000_000_000_000_000, endTimeUnixNano: 1_700_000_000_250_000_000,
                resource: [Attribute("service.name", .string("api"))])
        }
        let json = #"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web"}}]},"scopeLogs":[{"logRecords":[{"timeUnixNano":"1700000000000000009","body":{"stringValue":"json line"}}]}]}]}"#
        #expect(try await Self.post(harness, "/v1/logs", OTLPEncoder.encodeLogs(records), contentType: "application/x-protobuf") == .ok)
        #expect(try await Self.post(harness, "/v1/logs", Array(json.utf8), contentType: "application/json") == .ok)
        #expect(try await Self.post(harness, "/v1/traces", OTLPEncoder.encodeTraces(spans), contentType: "application/x-protobuf") == .ok)
        let storedLogs = try Self.stored(harness)
        let storedSpans = try harness.api.spans.spans(tenant: .default, in: .all, limit: .max).sorted { $0.spanID.value < $1.spanID.value }
        #expect(storedLogs.count == 4 && storedSpans.count == 2)
        try await harness.crash()

        let reopened = try ServerHarness(replay: false, reopening: harness.temporary)
        #expect(try reopened.walRecordKinds() == Array(repeating: BatchDeduplicator.requestMarker, count: 3))
        try reopened.api.pipeline.replayAndOpen()
        #expect(try Self.stored(reopened) == storedLogs)
        #expect(try reopened.api.spans.spans(tenant: .default, in: .all, limit: .max).sorted { $0.spanID.value < $1.spanID.value } == storedSpans)
        await reopened.cleanUp()
    }

    @Test func bulkRequestsAreLoggedAsTheyCameWithTheirPathsIndexUnlessAnItemIsRefused() async throws {
        let harness = try ServerHarness()
        let withPathIndex = """
            {"index":{}}
            {"@timestamp":"2026-11-27T10:00:00Z","message":"from the path's index","user":"u1"}
            {"create":{}}
            {"@timestamp":1795780000000,"message":"second","level":"warn"}

            """
        let withOwnIndex = """
            {"index":{"_index":"audit-app"}}
            {"message":"own index, no timestamp"}

            """
        let withRefusal = """
            {"index":{"_index":"web"}}
            {"message":"kept"}
            {"delete":{"_index":"web","_id":"1"}}

            """
        #expect(try await Self.post(harness, "/logs-app/_bulk", Array(withPathIndex.utf8), contentType: "application/x-ndjson") == .ok)
        #expect(try await Self.post(harness, "/_bulk", Array(withOwnIndex.utf8), contentType: "application/x-ndjson") == .ok)
        #expect(try await Self.post(harness, "/_bulk", Array(withRefusal.utf8), contentType: "application/x-ndjson") == .ok)
        let before = try Self.stored(harness)
        #expect(before.map(\.body.text).sorted() == ["from the path's index", "kept", "own index, no timestamp", "second"])
        try await harness.crash()

        let reopened = try ServerHarness(replay: false, reopening: harness.temporary)
        let kinds = try reopened.walRecordKinds()
        #expect(kinds.count == 3)
        #expect(kinds.prefix(2) == [BatchDeduplicator.requestMarker, BatchDeduplicator.requestMarker])
        #expect(kinds.last != BatchDeduplicator.requestMarker)
        try reopened.api.pipeline.replayAndOpen()
        #expect(try Self.stored(reopened) == before)
        await reopened.cleanUp()
    }

    @Test func aPushChangedOnTheWayIsLoggedAsItsRecords() async throws {
        var limits = IngestLimits()
        limits.maxLogBodyBytes = 6
        limits.longLogBodies = .truncate
        let harness = try ServerHarness(limits: limits)
        #expect(try await Self.push(harness, Array(Self.json.utf8), contentType: "application/json") == .noContent)
        let before = try Self.stored(harness)
        #expect(before.map(\.body.text) == ["first ", "second", "third "])
        try await harness.crash()

        let reopened = try ServerHarness(limits: limits, replay: false, reopening: harness.temporary)
        let kinds = try reopened.walRecordKinds()
        #expect(kinds.count == 1 && kinds != [BatchDeduplicator.requestMarker])
        try reopened.api.pipeline.replayAndOpen()
        #expect(try Self.stored(reopened) == before)
        await reopened.cleanUp()
    }

    @Test func aRequestPayloadKeepsItsBatchIDAndDecodesToTheStampedRecords() throws {
        let body = Self.protobuf(["one", "two", "three"])
        let request = ReceivedRequest(format: .lokiSnappyProtobuf, body: body, observedTimeUnixNano: 42, recordCount: 3)
        let expected = try request.decoded()
        guard case .logs(let records) = expected.batch else { Issue.record("not logs"); return }
        #expect(records.map(\.body.text) == ["one", "two", "three"])
        #expect(records.allSatisfy { $0.observedTimeUnixNano == 42 })

        let tenant = Tenant(uncheckedID: "acme")
        let payload = BatchDeduplicator.walPayload(id: "batch-7", batch: TenantBatch(tenant: tenant, batch: expected.batch), request: request)
        let (id, batch, logged) = try payload.withUnsafeBytes { try BatchDeduplicator.decodeWALPayload($0) }
        #expect(id == "batch-7")
        #expect(batch == TenantBatch(tenant: tenant, batch: expected.batch))
        #expect(logged == request)
    }

    @Test func aPayloadsLayoutIsKnownByItsVersionOrRequestFormat() {
        func knows(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { BatchDeduplicator.knowsLayout(of: $0) } }
        let request = ReceivedRequest(format: .lokiJSON, body: Array(Self.json.utf8), observedTimeUnixNano: 1, recordCount: 3)
        let batch = TenantBatch(tenant: .default, batch: .logs([]))
        #expect(knows(BatchDeduplicator.walPayload(id: nil, batch: batch)))
        #expect(knows(BatchDeduplicator.walPayload(id: "b-1", batch: batch)))
        #expect(knows(BatchDeduplicator.walPayload(id: "b-1", batch: batch, request: request)))
        // Later versions and formats, with and without an id.
        #expect(!knows([TenantBatch.readableVersions.upperBound + 1, 0x01]))
        #expect(!knows([BatchDeduplicator.requestMarker, 0x7F]))
        var withID = BatchDeduplicator.walPayload(id: "b-1", batch: batch, request: request)
        withID[6] = 0x7F  // 0xB1, length 3, "b-1", the marker, then the format byte
        #expect(withID[5] == BatchDeduplicator.requestMarker && !knows(withID))
        // Too short to say: damaged, in a known layout.
        #expect(knows([]) && knows([BatchDeduplicator.requestMarker]) && knows([BatchDeduplicator.idMarker]))
    }

    @Test func aRequestRecordThatNoLongerGivesItsRecordsIsReportedCorrupt() throws {
        let batch = TenantBatch(tenant: .default, batch: .logs([]))
        func decode(_ request: ReceivedRequest) throws {
            let payload = BatchDeduplicator.walPayload(id: nil, batch: batch, request: request)
            _ = try payload.withUnsafeBytes { try BatchDeduplicator.decodeWALPayload($0) }
        }
        let malformed = ReceivedRequest(format: .lokiJSON, body: Array(#"{"streams":["#.utf8), observedTimeUnixNano: 1, recordCount: 1)
        let error = #expect(throws: SightlineError.self) { try decode(malformed) }
        #expect(error?.code == .dataCorrupted)
        #expect(error?.message.contains("lokiJSON request no longer decodes") == true)

        let miscounted = ReceivedRequest(format: .lokiJSON, body: Array(Self.json.utf8), observedTimeUnixNano: 1, recordCount: 4)
        let mismatch = #expect(throws: SightlineError.self) { try decode(miscounted) }
        #expect(mismatch?.message.contains("decodes to 3 records (0 refused), not the 4 it held") == true)

        var unknown = BatchDeduplicator.walPayload(id: nil, batch: batch, request: miscounted)
        unknown[1] = 99
        let format = #expect(throws: SightlineError.self) { _ = try unknown.withUnsafeBytes { try BatchDeduplicator.decodeWALPayload($0) } }
        #expect(format?.message == "a WAL request record has unknown format 99")
    }
}
