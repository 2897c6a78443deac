import Foundation
import HTTPTypes
import NIOCore
import SightlineIngest
import SightlineTestSupport
import Testing

@testable import SightlineCore
@testable import SightlineServer

/// Metadata sent without samples, as Prometheus' remote write sends it (`send_metadata`), is stored.
struct MetricMetadataIngestTests {
    @Test func aRequestWithMetadataAloneIsStored() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-metadata")
        defer { temporary.remove() }
        let harness = try EmbeddedMetricsHarness(temporary.path)
        let metadata = [MetricMetadata(metricFamily: "http_requests", kind: .counter, help: "Requests served.", unit: "")]
        let reply = try await harness.client().execute(
            "/api/v1/write", method: .post, headers: [.contentType: "application/x-protobuf", .contentEncoding: "snappy"],
            body: ByteBuffer(bytes: RemoteWriteEncoder.encodeSnappy([], metadata: metadata)))
        #expect(reply.status == .noContent)
        let answer = try await harness.client().execute("/api/v1/metadata").text
        #expect(answer == #"{"status":"success","data":{"http_requests":[{"type":"counter","help":"Requests served.","unit":""}]}}"#)
        try await harness.api.pipeline.shutdown()
    }
}
