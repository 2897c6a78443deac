import Foundation
import HTTPTypes
import NIOCore
import SightlineTestSupport
import Testing

@testable import SightlineCore
@testable import SightlineServer

/// Graphite's find, expand, index and render routes over the embedded engine.
struct GraphiteAPITests {
    private static func form(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    /// `servers.web1.cpu`, `servers.web2.cpu`, `servers.web1.disk.sda` and a tagged `servers;dc=x` (a leaf that is
    /// also a branch: `servers`), samples every 10 s from 1,000,003 ms.
    private static func write(_ harness: EmbeddedMetricsHarness) async throws {
        var samples: [MetricSample] = []
        for (labels, base) in [
            (Labels(["__name__": "servers.web1.cpu"]), 1.0), (Labels(["__name__": "servers.web2.cpu"]), 10),
            (Labels(["__name__": "servers.web1.disk.sda"]), 100), (Labels(["__name__": "servers", "dc": "x"]), 7),
        ] {
            for i in 0..<6 { samples.append(MetricSample(labels: labels, timestampMs: 1_000_003 + Int64(i) * 10_000, value: base + Double(i))) }
        }
        _ = try await harness.api.pipeline.ingest(DecodedBatch(.metrics(MetricBatch(samples: samples))), tenant: .default, protocol: "test", bytes: 0)
    }

    @Test func findExpandAndIndexAnswerAsGraphiteWeb() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-graphite")
        defer { temporary.remove() }
        let harness = try EmbeddedMetricsHarness(temporary.path)
        try await Self.write(harness)
        let client = harness.client()
        #expect(try await client.execute("/metrics/find?query=*").text
            == #"[{"allowChildren":1,"expandable":1,"leaf":0,"id":"servers","text":"servers"}]"#)
        #expect(try await client.execute("/graphite/metrics/find?query=servers.web1.*").text
            == #"[{"allowChildren":1,"expandable":1,"leaf":0,"id":"servers.web1.disk","text":"disk"},{"allowChildren":0,"expandable":0,"leaf":1,"id":"servers.web1.cpu","text":"cpu"}]"#)
        #expect(try await client.execute("/metrics/find?query=servers.web*&wildcards=1").text
            == #"[{"allowChildren":1,"expandable":1,"leaf":0,"id":"servers.*","text":"*"},{"allowChildren":1,"expandable":1,"leaf":0,"id":"servers.web1","text":"web1"},{"allowChildren":1,"expandable":1,"leaf":0,"id":"servers.web2","text":"web2"}]"#)
        // Wildcards before the last node: one node per name, under the query's own prefix.
        #expect(try await client.execute("/metrics/find?query=servers.*.*").text
            == #"[{"allowChildren":1,"expandable":1,"leaf":0,"id":"servers.*.disk","text":"disk"},{"allowChildren":0,"expandable":0,"leaf":1,"id":"servers.*.cpu","text":"cpu"}]"#)
        // The completer completes what was typed and lists a leaf that is also a branch twice, then the wildcard.
        #expect(try await client.execute("/metrics/find?query=serv&format=completer&wildcards=1").text
            == #"{"metrics":[{"path":"servers.","name":"servers","is_leaf":"0"},{"path":"servers","name":"servers","is_leaf":"1"},{"name":"*"}]}"#)
        let completer = try await client.execute("/metrics/find?query=\(Self.form("servers.{web1,web2}.c?u"))&format=completer").text
        #expect(completer
            == #"{"metrics":[{"path":"servers.web1.cpu","name":"cpu","is_leaf":"1"},{"path":"servers.web2.cpu","name":"cpu","is_leaf":"1"}]}"#)
        #expect(try await client.execute("/metrics/expand?query=servers.*&query=servers.web1.*").text
            == #"{"results":["servers.web1","servers.web1.cpu","servers.web1.disk","servers.web2"]}"#)
        #expect(try await client.execute("/metrics/expand?query=servers.web1.*&leavesOnly=1&groupByExpr=1").text
            == #"{"results":{"servers.web1.*":["servers.web1.cpu"]}}"#)
        #expect(try await client.execute("/metrics/index.json").text == #"["servers","servers.web1.cpu","servers.web1.disk.sda","servers.web2.cpu"]"#)
        #expect(try await client.execute("/tags/autoComplete/tags").text == #"["dc","name"]"#)
        #expect(try await client.execute("/tags/autoComplete/tags?tagPrefix=d&expr=\(Self.form("name=servers"))").text == #"["dc"]"#)
        #expect(try await client.execute("/tags/autoComplete/values?tag=name&valuePrefix=servers.web&limit=1").text == #"["servers.web1.cpu"]"#)
        #expect(try await client.execute("/graphite/tags/autoComplete/values?tag=dc").text == #"["x"]"#)
        #expect(try await client.execute("/tags/autoComplete/values").status == .badRequest)
        #expect(try await client.execute("/tags/autoComplete/tags?expr=nonsense").status == .badRequest)
        #expect(try await client.execute("/metrics/find").status == .badRequest)
        #expect(try await client.execute("/metrics/find?query=a&format=pickle").status == .badRequest)
        try await harness.api.pipeline.shutdown()
    }

    @Test func renderAnswersDatapointsOnTheStorageGrid() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-graphite")
        defer { temporary.remove() }
        let harness = try EmbeddedMetricsHarness(temporary.path)
        try await Self.write(harness)
        let client = harness.client()
        let render = "/render?from=995&until=1040&format=json&target="
        #expect(try await client.execute(render + Self.form("servers.web1.cpu")).text
            == #"[{"target":"servers.web1.cpu","tags":{"name":"servers.web1.cpu"},"datapoints":[[1.0,1000],[2.0,1010],[3.0,1020],[4.0,1030],[5.0,1040]]}]"#)
        let post = try await client.execute(
            "/graphite/render", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
            body: ByteBuffer(string: "from=995&until=1040&maxDataPoints=2&target=\(Self.form("sumSeries(servers.web*.cpu)"))&target=\(Self.form("alias(servers,'tagged')"))"))
        // maxDataPoints as graphite-web: 5 steps into 2 points of 3, the start nudged to 1020 (a multiple of 30).
        #expect(post.text == #"[{"target":"sumSeries(servers.web*.cpu)","tags":{"name":"sumSeries(servers.web*.cpu)"},"datapoints":[[15.0,1020],[19.0,1050]]},{"target":"tagged","tags":{"dc":"x","name":"servers"},"datapoints":[[9.0,1020],[11.0,1050]]}]"#)
        // Relative times are accepted; a series with no sample in the range is left out.
        #expect(try await client.execute("/render?target=servers.web1.cpu&from=-5min").text == "[]")
        // A point is the interval that starts at its time: the one at 1040 holds the sample at 1050, as in whisper.
        let coarse = try await client.execute(render + Self.form("servers.web1.cpu") + "&storage_step=20s").text
        #expect(coarse
            == #"[{"target":"servers.web1.cpu","tags":{"name":"servers.web1.cpu"},"datapoints":[[2.0,1000],[4.0,1020],[6.0,1040]]}]"#)
        for (path, message) in [
            ("/render?target=nosuch(a)&from=995&until=1040", "unknown function nosuch()"),
            ("/render?target=servers.web1.cpu&format=png", "format png is not supported"),
            ("/render?target=servers.web1.cpu&from=yesterday", "invalid from"),
            ("/render?target=servers.web1.cpu&from=2000&until=1000", "must be before until"),
            ("/render?target=scale(servers.web1.cpu)&from=995&until=1040", "scale: argument factor must be a number"),
            ("/render?target=servers.web1.cpu&from=995&until=1040&maxDataPoints=0", "invalid maxDataPoints"),
        ] {
            let reply = try await client.execute(path)
            #expect(reply.status == .badRequest, "\(path)")
            #expect(reply.text.contains(message), "\(path): \(reply.text)")
        }
        try await harness.api.pipeline.shutdown()
    }
}
