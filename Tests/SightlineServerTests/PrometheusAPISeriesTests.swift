import Foundation
import HTTPTypes
import NIOCore
import Testing

@testable import SightlineCore
@testable import SightlineServer

struct PrometheusAPISeriesTests {
    @Test func seriesListsSortedLabelSets() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let reply = try await client.execute("/api/v1/series?match[]=up")
            #expect(reply.status == .ok)
            #expect(
                reply.text
                    == #"{"status":"success","data":[{"__name__":"up","instance":"a:9100","job":"node"},{"__name__":"up","instance":"b:9100","job":"node"}]}"#
            )
        }
        await harness.cleanUp()
    }

    @Test func severalMatchersAreAUnion() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let path = "/api/v1/series?match%5B%5D=\(formEncoded(#"up{instance="b:9100"}"#))&match[]=big&match[]=\(formEncoded(#"{job="api"}"#))"
            let reply = try await client.execute(path)
            #expect(reply.text == #"{"status":"success","data":[{"__name__":"big","job":"api"},{"__name__":"up","instance":"b:9100","job":"node"}]}"#)
            // match[] from a form body and the query string together.
            let post = try await client.execute(
                "/api/v1/series?match[]=big", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "match[]=\(formEncoded(#"up{instance="b:9100"}"#))"))
            #expect(post.text == reply.text)
        }
        await harness.cleanUp()
    }

    @Test func seriesHonoursTimeRangeAndLimit() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let all = try await client.execute("/api/v1/series?match[]=\(formEncoded(#"{job=~".+"}"#))")
            #expect((all.json["data"] as? [Any])?.count == 4)
            let recent = try await client.execute("/api/v1/series?match[]=\(formEncoded(#"{job=~".+"}"#))&start=1699999990&end=2023-11-14T22:13:20Z")
            #expect((recent.json["data"] as? [[String: String]])?.map { $0["__name__"] ?? "" } == ["big", "up", "up"])
            let old = try await client.execute("/api/v1/series?match[]=\(formEncoded(#"{job=~".+"}"#))&end=1699996400")
            #expect((old.json["data"] as? [[String: String]])?.map { $0["__name__"] ?? "" } == ["old_metric"])
            let limited = try await client.execute("/api/v1/series?match[]=up&limit=1")
            #expect((limited.json["data"] as? [Any])?.count == 1)
            #expect(limited.json["warnings"] as? [String] == ["results truncated due to limit"])
        }
        await harness.cleanUp()
    }

    @Test func seriesErrors() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let cases: [(String, String)] = [
                ("/api/v1/series", "no match[] parameter provided"),
                ("/api/v1/series?match[]=\(formEncoded(#"{job=~".*"}"#))", "match[] must contain at least one non-empty matcher"),
                ("/api/v1/series?match[]=up&start=yesterday", #"invalid parameter "start": invalid time value for 'start': cannot parse "yesterday" to a valid timestamp"#),
                ("/api/v1/series?match[]=up&limit=-3", #"invalid parameter "limit": limit must be non-negative"#),
            ]
            for (path, message) in cases {
                let reply = try await client.execute(path)
                #expect(reply.status == .badRequest, "\(path)")
                #expect(reply.errorType == "bad_data", "\(path)")
                #expect(reply.errorMessage == message, "\(path)")
            }
            let bad = try await client.execute("/api/v1/series?match[]=\(formEncoded("up{"))")
            #expect(bad.status == .badRequest)
            #expect(bad.errorMessage.hasPrefix(#"invalid parameter "match[]": 1:"#))
            // The label endpoints report a bad selector without the parameter prefix, as Prometheus does.
            let labels = try await client.execute("/api/v1/labels?match[]=\(formEncoded("up{"))")
            #expect(labels.status == .badRequest)
            #expect(labels.errorMessage.hasPrefix("1:"))
        }
        await harness.cleanUp()
    }

    @Test func labelNamesAreSorted() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            #expect(try await client.execute("/api/v1/labels").text == #"{"status":"success","data":["__name__","instance","job"]}"#)
            #expect(try await client.execute("/api/v1/labels?match[]=big").text == #"{"status":"success","data":["__name__","job"]}"#)
            let post = try await client.execute(
                "/api/v1/labels", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "match[]=big&match[]=old_metric"))
            #expect(post.text == #"{"status":"success","data":["__name__","job"]}"#)
            let limited = try await client.execute("/api/v1/labels?limit=2")
            #expect(limited.text == #"{"status":"success","data":["__name__","instance"],"warnings":["results truncated due to limit"]}"#)
        }
        await harness.cleanUp()
    }

    @Test func labelValuesAreSorted() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            let jobs = try await client.execute("/api/v1/label/job/values").text
            #expect(jobs == #"{"status":"success","data":["api","batch","node"]}"#)
            let names = try await client.execute("/api/v1/label/__name__/values").text
            #expect(names == #"{"status":"success","data":["big","old_metric","up"]}"#)
            let instances = try await client.execute("/api/v1/label/instance/values?match[]=up&start=1700000000").text
            #expect(instances == #"{"status":"success","data":["a:9100","b:9100"]}"#)
            let nothing = try await client.execute("/api/v1/label/nothing/values").text
            #expect(nothing == #"{"status":"success","data":[]}"#)
            // UTF-8 label names, escaped in the path as Prometheus clients escape them, or as they are.
            harness.samples.add(Labels(["__name__": "otel_metric", "service.name": "checkout"]), [(PrometheusAPIHarness.t0, 1)])
            let escaped = try await client.execute("/api/v1/label/U__service_2e_name/values").text
            #expect(escaped == #"{"status":"success","data":["checkout"]}"#)
            let plain = try await client.execute("/api/v1/label/service.name/values").text
            #expect(plain == #"{"status":"success","data":["checkout"]}"#)
        }
        await harness.cleanUp()
    }

    @Test func metadataGroupsByFamily() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let client = harness.client()
        do {
            harness.samples.addMetadata(MetricMetadata(metricFamily: "up", kind: .gauge, help: "Whether the target is up."))
            let reply = try await client.execute("/api/v1/metadata")
            #expect(
                reply.text
                    == #"{"status":"success","data":{"http_requests":[{"type":"counter","help":"Requests.","unit":"requests"}],"up":[{"type":"gauge","help":"Whether the target is up.","unit":""}]}}"#
            )
            #expect(
                try await client.execute("/api/v1/metadata?metric=up").text
                    == #"{"status":"success","data":{"up":[{"type":"gauge","help":"Whether the target is up.","unit":""}]}}"#)
            #expect(try await client.execute("/api/v1/metadata?limit=1").text.hasPrefix(#"{"status":"success","data":{"http_requests":"#))
            #expect(try await client.execute("/api/v1/metadata?metric=nope").text == #"{"status":"success","data":{}}"#)
            let bad = try await client.execute("/api/v1/metadata?limit=x")
            #expect(bad.status == .badRequest)
            #expect(bad.errorMessage == "limit must be a number")
        }
        await harness.cleanUp()
    }

    @Test func tenantsSeeOnlyTheirOwnSeriesLabelsAndMetadata() async throws {
        let acme = Tenant(uncheckedID: "acme")
        let globex = Tenant(uncheckedID: "globex")
        let harness = try PrometheusAPIHarness(tokens: [
            TokenGrant(token: "acme", tenant: acme, roles: [.query]),
            TokenGrant(token: "globex", tenant: globex, roles: [.query]),
        ])
        harness.samples.add(Labels(["__name__": "acme_orders", "region": "eu"]), [(PrometheusAPIHarness.t0, 1)], tenant: acme)
        harness.samples.addMetadata(MetricMetadata(metricFamily: "acme_orders", kind: .counter, help: "Orders."), tenant: acme)
        harness.samples.add(Labels(["__name__": "globex_plans", "site": "hq"]), [(PrometheusAPIHarness.t0, 2)], tenant: globex)
        harness.samples.addMetadata(MetricMetadata(metricFamily: "globex_plans", kind: .gauge, help: "Plans."), tenant: globex)
        let client = harness.client()
        let acmeAuth: HTTPFields = [.authorization: "Bearer acme"]
        let globexAuth: HTTPFields = [.authorization: "Bearer globex"]
        let everything = formEncoded(#"{__name__=~".+"}"#)

        #expect(try await client.execute("/api/v1/series?match[]=\(everything)", headers: acmeAuth).text
            == #"{"status":"success","data":[{"__name__":"acme_orders","region":"eu"}]}"#)
        #expect(try await client.execute("/api/v1/series?match[]=\(everything)", headers: globexAuth).text
            == #"{"status":"success","data":[{"__name__":"globex_plans","site":"hq"}]}"#)
        #expect(try await client.execute("/api/v1/labels", headers: acmeAuth).text == #"{"status":"success","data":["__name__","region"]}"#)
        #expect(try await client.execute("/api/v1/labels", headers: globexAuth).text == #"{"status":"success","data":["__name__","site"]}"#)
        #expect(try await client.execute("/api/v1/label/__name__/values", headers: acmeAuth).text == #"{"status":"success","data":["acme_orders"]}"#)
        #expect(try await client.execute("/api/v1/label/__name__/values", headers: globexAuth).text == #"{"status":"success","data":["globex_plans"]}"#)
        #expect(try await client.execute("/api/v1/metadata", headers: acmeAuth).text.contains("acme_orders"))
        #expect(!(try await client.execute("/api/v1/metadata", headers: acmeAuth).text.contains("globex")))
        #expect(try await client.execute("/api/v1/query?query=globex_plans&time=1700000000", headers: acmeAuth).text
            == #"{"status":"success","data":{"resultType":"vector","result":[]}}"#)
        await harness.cleanUp()
    }
}
