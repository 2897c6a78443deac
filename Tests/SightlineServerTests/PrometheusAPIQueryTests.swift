import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import SightlineLogStore
import SightlineTraceStore
import Testing

@testable import SightlineCore
@testable import SightlineQuery
@testable import SightlineServer
@testable import SightlineStorageCore

/// A metric store in memory: the series and metadata of each tenant, queried as the TSDB answers.
final class InMemoryMetricQuerier: MetricQuerier {
    private let state = Mutex<(series: [Tenant: [SeriesSamples]], metadata: [Tenant: [MetricMetadata]])>(([:], [:]))

    /// Adds a series of `tenant` with samples given as (milliseconds, value).
    func add(_ labels: Labels, _ samples: [(Int64, Double)], tenant: Tenant = .default) {
        state.withLock {
            $0.series[tenant, default: []].append(SeriesSamples(labels: labels, timestampsMs: samples.map(\.0), values: samples.map(\.1)))
        }
    }

    /// Adds metadata of a metric family of `tenant`.
    func addMetadata(_ metadata: MetricMetadata, tenant: Tenant = .default) {
        state.withLock { $0.metadata[tenant, default: []].append(metadata) }
    }

    func select(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [SeriesSamples] {
        let all = state.withLock { $0.series[tenant] ?? [] }
        var out: [SeriesSamples] = []
        for series in all where matchers.allSatisfy({ $0.matches(series.labels) }) {
            var kept = SeriesSamples(labels: series.labels)
            for (t, v) in zip(series.timestampsMs, series.values) where t >= startMs && t <= endMs {
                kept.timestampsMs.append(t)
                kept.values.append(v)
            }
            if !kept.timestampsMs.isEmpty { out.append(kept) }
        }
        return out.sorted { $0.labels < $1.labels }
    }

    func labelNames(tenant: Tenant, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String] {
        Set(try select(tenant: tenant, matchers: matchers, startMs: startMs, endMs: endMs).flatMap { $0.labels.labels.map(\.name) }).sorted()
    }

    func labelValues(tenant: Tenant, name: String, matchers: [LabelMatcher], startMs: Int64, endMs: Int64) throws -> [String] {
        Set(try select(tenant: tenant, matchers: matchers, startMs: startMs, endMs: endMs).compactMap { $0.labels[name] }).sorted()
    }

    func metadata(tenant: Tenant, metric: String?) throws -> [MetricMetadata] {
        state.withLock { $0.metadata[tenant] ?? [] }.filter { metric == nil || $0.metricFamily == metric }
    }
}

/// An HTTP API whose metric store is an ``InMemoryMetricQuerier``; the other stores are real, over a temporary directory.
struct PrometheusAPIHarness {
    /// 2023-11-14T22:13:20Z, the newest sample time of the fixtures.
    static let t0: Int64 = 1_700_000_000_000

    let directory: String
    let api: APIDependencies
    let samples = InMemoryMetricQuerier()

    init(tokens: [TokenGrant] = []) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-promapi-\(UUID().uuidString)").path
        let logger = Logger(label: "test")
        let metrics = ServerMetrics()
        let limits = IngestLimits()
        let wal = try WriteAheadLog(directory: directory + "/wal", options: WALOptions(fsync: .never), logger: logger)
        let logs = try LogStore(directory: directory + "/logs", logger: logger)
        let spans = try TraceStore(directory: directory + "/traces", logger: logger)
        let pipeline = IngestPipeline(wal: wal, stores: [logs, spans], limits: limits, metrics: metrics, logger: logger)
        try pipeline.replayAndOpen()
        api = APIDependencies(
            pipeline: pipeline, authenticator: Authenticator(tokens: tokens), limits: limits, metrics: metrics,
            logs: logs, spans: spans, samples: samples
        )
    }

    /// The default fixtures: two `up` series, one older series and metadata, for `tenant`.
    func addFixtures(_ tenant: Tenant = .default) {
        let t0 = Self.t0
        samples.add(Labels(["__name__": "up", "job": "node", "instance": "a:9100"]), [(t0 - 60_000, 1), (t0 - 30_000, 1), (t0, 1)], tenant: tenant)
        samples.add(Labels(["__name__": "up", "job": "node", "instance": "b:9100"]), [(t0 - 30_000, 0), (t0, 0)], tenant: tenant)
        samples.add(Labels(["__name__": "big", "job": "api"]), [(t0, 1e6)], tenant: tenant)
        samples.add(Labels(["__name__": "old_metric", "job": "batch"]), [(t0 - 3_600_000, 7)], tenant: tenant)
        samples.addMetadata(MetricMetadata(metricFamily: "up", kind: .gauge, help: "Whether the target is up."), tenant: tenant)
        samples.addMetadata(MetricMetadata(metricFamily: "http_requests", kind: .counter, help: "Requests.", unit: "requests"), tenant: tenant)
    }

    /// A harness with ``addFixtures(_:)`` for the default tenant.
    static func withFixtures() throws -> PrometheusAPIHarness {
        let harness = try PrometheusAPIHarness()
        harness.addFixtures()
        return harness
    }

    func client() -> RouterClient { RouterClient(HTTPAPI.router(api)) }

    func cleanUp() async {
        try? await api.pipeline.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

extension RouterClient.Reply {
    /// The body as text.
    var text: String { String(buffer: body) }

    /// The body as a JSON object, or empty.
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
    }

    /// The `error` field of an error response.
    var errorMessage: String { json["error"] as? String ?? "" }

    /// The `errorType` field of an error response.
    var errorType: String { json["errorType"] as? String ?? "" }
}

/// Percent-encodes a query parameter value as clients do: everything but unreserved characters is escaped.
func formEncoded(_ value: String) -> String {
    var out = ""
    for byte in value.utf8 {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            out += String(format: "%%%02X", byte)
        }
    }
    return out
}

struct PrometheusAPIQueryTests {
    private func query(_ client: RouterClient, _ expression: String, time: String = "1700000000", extra: String = "") async throws -> RouterClient.Reply {
        try await client.execute("/api/v1/query?query=\(formEncoded(expression))&time=\(time)\(extra)")
    }

    @Test func instantVectorHasPrometheusShape() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let reply = try await query(client, #"up{instance="a:9100"}"#)
            #expect(reply.status == .ok)
            #expect(reply.headers[.contentType] == "application/json")
            #expect(
                reply.text
                    == #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"a:9100","job":"node"},"value":[1700000000,"1"]}]}}"#
            )
        }
        await harness.cleanUp()
    }

    @Test func instantVectorWithEverySeries() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let reply = try await query(client, "up")
            let data = reply.json["data"] as? [String: Any]
            let result = data?["result"] as? [[String: Any]] ?? []
            let values = result.map { (($0["metric"] as? [String: String])?["instance"] ?? "", ($0["value"] as? [Any])?.last as? String ?? "") }
            #expect(Set(values.map { "\($0.0)=\($0.1)" }) == ["a:9100=1", "b:9100=0"])
        }
        await harness.cleanUp()
    }

    @Test func timestampsKeepMilliseconds() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            #expect(try await query(client, "1", time: "1435781451.781").text.contains(#""result":[1435781451.781,"1"]"#))
            #expect(try await query(client, "1", time: "1435781451.78").text.contains(#""result":[1435781451.780,"1"]"#))
            #expect(try await query(client, "1", time: "1435781451.005").text.contains(#""result":[1435781451.005,"1"]"#))
            #expect(try await query(client, "1", time: "2015-07-01T20:10:51.781Z").text.contains(#""result":[1435781451.781,"1"]"#))
            #expect(try await query(client, "1", time: "2015-07-01T22:10:51.781%2B02:00").text.contains(#""result":[1435781451.781,"1"]"#))
        }
        await harness.cleanUp()
    }

    @Test func scalarsUsePrometheusFloatFormat() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let cases: [(String, String)] = [
                ("1e6", "1000000"), ("1e21", "1e+21"), ("1e-7", "1e-07"), ("0.1", "0.1"), ("-2.5", "-2.5"),
                ("NaN", "NaN"), ("Inf", "+Inf"), ("-Inf", "-Inf"), ("0", "0"),
            ]
            for (expression, expected) in cases {
                let reply = try await query(client, expression)
                #expect(reply.text == #"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"\#(expected)"]}}"#, "\(expression)")
            }
            #expect(try await query(client, "big").text.contains(#""value":[1700000000,"1000000"]"#))
        }
        await harness.cleanUp()
    }

    @Test func stringResult() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let reply = try await query(client, #""hello \"world\"""#)
            #expect(reply.text == #"{"status":"success","data":{"resultType":"string","result":[1700000000,"hello \"world\""]}}"#)
        }
        await harness.cleanUp()
    }

    @Test func rangeVectorInInstantQueryIsMatrix() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let reply = try await query(client, #"up{instance="a:9100"}[1m]"#)
            #expect(
                reply.text
                    == #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","instance":"a:9100","job":"node"},"values":[[1699999970,"1"],[1700000000,"1"]]}]}}"#
            )
        }
        await harness.cleanUp()
    }

    @Test func rangeQueryIsMatrix() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let path = "/api/v1/query_range?query=\(formEncoded(#"up{instance="a:9100"}"#))&start=1699999940&end=1700000000&step=30s"
            let reply = try await client.execute(path)
            #expect(
                reply.text
                    == #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","instance":"a:9100","job":"node"},"values":[[1699999940,"1"],[1699999970,"1"],[1700000000,"1"]]}]}}"#
            )
            // The step as float seconds, the times as RFC 3339.
            let other = try await client.execute(
                "/api/v1/query_range?query=\(formEncoded(#"up{instance="a:9100"}"#))&start=2023-11-14T22:12:20Z&end=2023-11-14T22:13:20.000Z&step=30")
            #expect(other.text == reply.text)
        }
        await harness.cleanUp()
    }

    @Test func postFormBodyWinsOverQueryString() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let body = ByteBuffer(string: "query=\(formEncoded(#"up{instance="a:9100"}"#))&time=1700000000")
            let reply = try await client.execute(
                "/api/v1/query?query=broken(", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: body)
            #expect(reply.status == .ok)
            #expect(reply.text.contains(#""instance":"a:9100""#))
            // The query string still supplies what the body does not.
            let range = try await client.execute(
                "/api/v1/query_range?start=1699999940&end=1700000000", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded; charset=utf-8"],
                body: ByteBuffer(string: "query=up%7Binstance%3D%22a%3A9100%22%7D&step=30s"))
            #expect(range.status == .ok)
            #expect(range.text.contains(#""values":[[1699999940,"1"],[1699999970,"1"],[1700000000,"1"]]"#))
        }
        await harness.cleanUp()
    }

    @Test func formBodyOfAnotherTypeIsIgnored() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let reply = try await client.execute(
                "/api/v1/query?time=1700000000", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: "query=up"))
            #expect(reply.status == .badRequest)
            #expect(reply.errorMessage.hasPrefix(#"invalid parameter "query": "#))
        }
        await harness.cleanUp()
    }

    @Test func limitTruncatesWithAWarning() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let reply = try await query(client, "up", extra: "&limit=1")
            let result = (reply.json["data"] as? [String: Any])?["result"] as? [Any] ?? []
            #expect(result.count == 1)
            #expect(reply.json["warnings"] as? [String] == ["results truncated due to limit"])
            #expect(reply.text.hasSuffix(#","warnings":["results truncated due to limit"]}"#))
            // No warnings key when there are none.
            #expect(!(try await query(client, "up", extra: "&limit=2").text.contains("warnings")))
        }
        await harness.cleanUp()
    }

    @Test func badParametersAreBadData() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let cases: [(String, String)] = [
                ("/api/v1/query?query=up&time=x", #"invalid parameter "time": invalid time value for 'time': cannot parse "x" to a valid timestamp"#),
                ("/api/v1/query?query=up&limit=-1", #"invalid parameter "limit": limit must be non-negative"#),
                ("/api/v1/query?query=up&limit=x", #"invalid parameter "limit": strconv.Atoi: parsing "x": invalid syntax"#),
                ("/api/v1/query?query=up&timeout=soon", #"invalid parameter "timeout": cannot parse "soon" to a valid duration"#),
                ("/api/v1/query?query=up&lookback_delta=x", #"error parsing lookback delta duration: cannot parse "x" to a valid duration"#),
                ("/api/v1/query_range?query=up&start=x&end=1&step=1", #"invalid parameter "start": cannot parse "x" to a valid timestamp"#),
                ("/api/v1/query_range?query=up&end=1&step=1", #"invalid parameter "start": cannot parse "" to a valid timestamp"#),
                ("/api/v1/query_range?query=up&start=1&end=y&step=1", #"invalid parameter "end": cannot parse "y" to a valid timestamp"#),
                ("/api/v1/query_range?query=up&start=10&end=5&step=1", #"invalid parameter "end": end timestamp must not be before start time"#),
                ("/api/v1/query_range?query=up&start=1&end=5&step=abc", #"invalid parameter "step": cannot parse "abc" to a valid duration"#),
                (
                    "/api/v1/query_range?query=up&start=1&end=5&step=0",
                    #"invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer"#
                ),
                (
                    "/api/v1/query_range?query=up&start=0&end=11001&step=1",
                    "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
                ),
                (
                    "/api/v1/query_range?query=\(formEncoded("up[5m]"))&start=1&end=5&step=1",
                    #"invalid parameter "query": invalid expression type "range vector" for range query, must be Scalar or instant Vector"#
                ),
            ]
            for (path, message) in cases {
                let reply = try await client.execute(path)
                #expect(reply.status == .badRequest, "\(path)")
                #expect(reply.errorType == "bad_data", "\(path)")
                #expect(reply.errorMessage == message, "\(path)")
                #expect(reply.json["status"] as? String == "error")
            }
        }
        await harness.cleanUp()
    }

    @Test func parseErrorsNameTheQueryParameter() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let reply = try await query(client, "sum(up")
            #expect(reply.status == .badRequest)
            #expect(reply.errorType == "bad_data")
            #expect(reply.errorMessage.hasPrefix(#"invalid parameter "query": 1:"#))
            #expect(reply.errorMessage.contains("parse error"))
            let missing = try await client.execute("/api/v1/query")
            #expect(missing.status == .badRequest)
            #expect(missing.errorMessage.hasPrefix(#"invalid parameter "query": "#))
        }
        await harness.cleanUp()
    }

    @Test func evaluationErrorsAreExecutionErrors() async throws {
        let harness = try PrometheusAPIHarness()
        harness.samples.add(Labels(["__name__": "dup_a", "job": "x"]), [(PrometheusAPIHarness.t0, 1)])
        harness.samples.add(Labels(["__name__": "dup_b", "job": "x"]), [(PrometheusAPIHarness.t0, 2)])
        let reply = try await harness.client().execute("/api/v1/query?query=\(formEncoded(#"abs({__name__=~"dup_.*"})"#))&time=1700000000")
        #expect(reply.status == .unprocessableContent)
        #expect(reply.errorType == "execution")
        #expect(reply.errorMessage == "vector cannot contain metrics with the same labelset")
        await harness.cleanUp()
    }

    @Test func queriesNeedTheQueryRole() async throws {
        let harness = try PrometheusAPIHarness(tokens: [
            TokenGrant(token: "reader", tenant: Tenant(uncheckedID: "acme"), roles: [.query]),
            TokenGrant(token: "writer", tenant: Tenant(uncheckedID: "acme"), roles: [.ingest]),
        ])
        harness.addFixtures(Tenant(uncheckedID: "acme"))
        let client = harness.client()
        let path = "/api/v1/query?query=up&time=1700000000"
        #expect(try await client.execute(path).status == .unauthorized)
        #expect(try await client.execute(path, headers: [.authorization: "Bearer writer"]).status == .forbidden)
        let reply = try await client.execute(path, headers: [.authorization: "Bearer reader"])
        #expect(reply.status == .ok)
        #expect(reply.text.contains(#""instance":"a:9100""#))
        for route in ["/api/v1/query_range", "/api/v1/series", "/api/v1/labels", "/api/v1/label/job/values", "/api/v1/metadata",
            "/api/v1/format_query", "/api/v1/query_exemplars", "/api/v1/status/buildinfo", "/api/v1/status/config", "/api/v1/status/flags"]
        {
            #expect(try await client.execute(route).status == .unauthorized, "\(route)")
        }
        await harness.cleanUp()
    }

    @Test func tenantsQueryOnlyTheirOwnSeries() async throws {
        let acme = Tenant(uncheckedID: "acme")
        let globex = Tenant(uncheckedID: "globex")
        let harness = try PrometheusAPIHarness(tokens: [
            TokenGrant(token: "acme", tenant: acme, roles: [.query]),
            TokenGrant(token: "globex", tenant: globex, roles: [.query]),
        ])
        harness.samples.add(Labels(["__name__": "secret", "owner": "acme"]), [(PrometheusAPIHarness.t0, 1)], tenant: acme)
        harness.samples.add(Labels(["__name__": "secret", "owner": "globex"]), [(PrometheusAPIHarness.t0, 2)], tenant: globex)
        let client = harness.client()
        for (token, owner, value) in [("acme", "acme", "1"), ("globex", "globex", "2")] {
            let reply = try await client.execute("/api/v1/query?query=secret&time=1700000000", headers: [.authorization: "Bearer \(token)"])
            #expect(reply.text == #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"secret","owner":"\#(owner)"},"value":[1700000000,"\#(value)"]}]}}"#)
        }
        await harness.cleanUp()
    }

    @Test func formatQueryPrintsCanonicalText() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let reply = try await client.execute("/api/v1/format_query?query=\(formEncoded("sum by(job)(rate(x{a=\"b\"}[5m] offset 1m))"))")
            #expect(reply.text == #"{"status":"success","data":"sum by (job) (rate(x{a=\"b\"}[5m] offset 1m))"}"#)
            let post = try await client.execute(
                "/api/v1/format_query", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "query=foo+%2B+bar"))
            #expect(post.text == #"{"status":"success","data":"foo + bar"}"#)
            let bad = try await client.execute("/api/v1/format_query?query=\(formEncoded("foo +"))")
            #expect(bad.status == .badRequest)
            #expect(bad.errorMessage.hasPrefix(#"invalid parameter "query": 1:"#))
        }
        await harness.cleanUp()
    }

    @Test func aStoreWithoutExemplarsAnswersAnEmptyList() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            #expect(try await client.execute("/api/v1/query_exemplars?query=up&start=1&end=2").text == #"{"status":"success","data":[]}"#)
            let bad = try await client.execute("/api/v1/query_exemplars?query=up&start=2&end=1")
            #expect(bad.errorMessage == "end timestamp must not be before start timestamp")
            #expect(try await client.execute("/api/v1/query_exemplars?query=up(").status == .badRequest)
        }
        await harness.cleanUp()
    }
}
