import Foundation
import HTTPTypes
import NIOCore
import SightlineTestSupport
import Testing

@testable import SightlineCore
import SightlineIngest
import SightlineStorageCore
import SightlineTSDB
@testable import SightlineServer

/// `/api/v1/query_exemplars` over the embedded engine, with exemplars written through the pipeline and WAL.
struct PrometheusExemplarsTests {
    private static func form(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    private static let openMetrics = """
        # TYPE rpc_seconds histogram
        rpc_seconds_bucket{le="0.5",job="api"} 3 # {trace_id="aa11"} 0.25 1000.5
        rpc_seconds_bucket{le="+Inf",job="api"} 4 # {trace_id="bb22",span_id="cc"} 2 1001
        rpc_seconds_sum{job="api"} 3.1
        rpc_seconds_count{job="api"} 4
        # TYPE jobs counter
        jobs_total{job="batch"} 7 # {trace_id="dd33"} 1
        # EOF

        """

    @Test func exemplarsAreAnsweredAsPrometheusAnswersThemAndSurviveACrash() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-exemplars")
        defer { temporary.remove() }
        var harness = try EmbeddedMetricsHarness(temporary.path)
        let imported = try await harness.client().execute(
            "/api/v1/import/prometheus?timestamp=1002000", method: .post,
            headers: [.contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8"], body: ByteBuffer(string: Self.openMetrics))
        #expect(imported.status == .noContent)
        // The classic text format has no exemplars: what follows ` # ` is skipped.
        let classic = try await harness.client().execute(
            "/api/v1/import/prometheus?timestamp=1002000", method: .post, headers: [.contentType: "text/plain; version=0.0.4"],
            body: ByteBuffer(string: "other_total 1 # {trace_id=\"ee44\"} 1\n"))
        #expect(classic.status == .noContent)

        let expectedHistogram = #"{"status":"success","data":[{"seriesLabels":{"__name__":"rpc_seconds_bucket","job":"api","le":"+Inf"},"exemplars":[{"labels":{"span_id":"cc","trace_id":"bb22"},"value":"2","timestamp":1001}]},{"seriesLabels":{"__name__":"rpc_seconds_bucket","job":"api","le":"0.5"},"exemplars":[{"labels":{"trace_id":"aa11"},"value":"0.25","timestamp":1000.500}]}]}"#
        let query = "/api/v1/query_exemplars?query=\(Self.form("histogram_quantile(0.9, rate(rpc_seconds_bucket[5m]))"))&start=900&end=2000"
        #expect(try await harness.client().execute(query).text == expectedHistogram)
        // Every selector counts; a series selected twice comes once; the range bounds are inclusive.
        let both = try await harness.client().execute(
            "/api/v1/query_exemplars", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
            body: ByteBuffer(string: "query=\(Self.form(#"jobs_total / on() group_left rpc_seconds_bucket{le="0.5"} + rpc_seconds_bucket"#))&start=1000.5&end=1002"))
        let series = try #require(both.json["data"] as? [[String: Any]]).map { $0["seriesLabels"] as? [String: String] ?? [:] }
        #expect(series.map { $0["__name__"] ?? "" } == ["jobs_total", "rpc_seconds_bucket", "rpc_seconds_bucket"])
        // The counter's exemplar has no timestamp: it takes its sample's (the import's `timestamp`).
        #expect(try await harness.client().execute("/api/v1/query_exemplars?query=jobs_total&start=1002&end=1002").text.contains(#""timestamp":1002}"#))
        #expect(try await harness.client().execute("/api/v1/query_exemplars?query=other_total").text == #"{"status":"success","data":[]}"#)
        #expect(try await harness.client().execute("/api/v1/query_exemplars?query=rpc_seconds_bucket&start=1001.001").text.contains("aa11") == false)
        // Without a selector, Prometheus answers 204 and no body.
        let noSelector = try await harness.client().execute("/api/v1/query_exemplars?query=1%2B1")
        #expect(noSelector.status == .noContent && noSelector.body.readableBytes == 0)

        // An older exemplar for a series than its newest is not kept; a repeat is not kept twice.
        let again = try await harness.client().execute(
            "/api/v1/import/prometheus?timestamp=1003000", method: .post,
            headers: [.contentType: "application/openmetrics-text; version=1.0.0"],
            body: ByteBuffer(string: "rpc_seconds_bucket{le=\"0.5\",job=\"api\"} 5 # {trace_id=\"old\"} 0.1 999\n"
                + "rpc_seconds_bucket{le=\"+Inf\",job=\"api\"} 6 # {trace_id=\"bb22\",span_id=\"cc\"} 2 1001\n# EOF\n"))
        #expect(again.status == .noContent)
        #expect(try await harness.client().execute(query).text == expectedHistogram)
        #expect(harness.tsdb.exemplarState.dropped == [ExemplarRing.Reason.outOfOrder: 1])

        // A crash: the exemplars come back from the WAL; after a checkpoint, from the engine's own file.
        try await harness.api.pipeline.wal.close()
        harness = try EmbeddedMetricsHarness(temporary.path)
        #expect(try await harness.client().execute(query).text == expectedHistogram)
        try await harness.api.pipeline.checkpoint()
        try await harness.api.pipeline.shutdown()
        harness = try EmbeddedMetricsHarness(temporary.path)
        #expect(try await harness.client().execute(query).text == expectedHistogram)
        try await harness.api.pipeline.shutdown()
    }

    @Test func remoteWriteCarriesExemplarsAndCountsThem() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-exemplars")
        defer { temporary.remove() }
        let harness = try EmbeddedMetricsHarness(temporary.path)
        // Remote write 2.0: symbols, one series with a sample and two exemplars.
        var request = ProtobufWriter()
        request.writeMessage(5) { series in
            var refs = ProtobufWriter()
            for ref: UInt64 in [1, 2, 3, 4] { refs.writeRawVarint(ref) }
            series.writeBytes(1, refs.bytes)
            series.writeMessage(2) { sample in
                sample.writeDouble(1, 5)
                sample.writeInt64(2, 10_000)
            }
            for (time, value) in [(Int64(9_000), 0.5), (9_500, 0.7)] {
                series.writeMessage(4) { exemplar in
                    var labelRefs = ProtobufWriter()
                    for ref: UInt64 in [5, 6] { labelRefs.writeRawVarint(ref) }
                    exemplar.writeBytes(1, labelRefs.bytes)
                    exemplar.writeDouble(2, value)
                    exemplar.writeInt64(3, time)
                }
            }
        }
        for symbol in ["", "__name__", "rpc_total", "job", "api", "trace_id", "ff00"] { request.writeString(4, symbol) }
        let body = request.bytes.withUnsafeBytes { Snappy.compress($0) }
        let reply = try await harness.client().execute(
            "/api/v1/write", method: .post,
            headers: [.contentType: "application/x-protobuf;proto=io.prometheus.write.v2.Request", .contentEncoding: "snappy"],
            body: ByteBuffer(bytes: body))
        #expect(reply.status == .noContent)
        #expect(reply.headers[PrometheusWriteHandler.exemplarsWritten] == "2")
        #expect(reply.headers[PrometheusWriteHandler.samplesWritten] == "1")
        let answer = try await harness.client().execute("/api/v1/query_exemplars?query=rpc_total&start=0&end=20").text
        #expect(answer == #"{"status":"success","data":[{"seriesLabels":{"__name__":"rpc_total","job":"api"},"exemplars":[{"labels":{"trace_id":"ff00"},"value":"0.5","timestamp":9},{"labels":{"trace_id":"ff00"},"value":"0.7","timestamp":9.500}]}]}"#)
        try await harness.api.pipeline.shutdown()
    }
}
