import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Testing

@testable import SightlineCore
@testable import SightlineQuery
@testable import SightlineServer

struct PrometheusAPIParsingTests {
    @Test func timesParseLikePrometheus() {
        #expect(PrometheusAPITime.parse("123") == 123_000)
        #expect(PrometheusAPITime.parse("123.123") == 123_123)
        #expect(PrometheusAPITime.parse("1543578564.705") == 1_543_578_564_705)
        #expect(PrometheusAPITime.parse("-1.5") == -1500)
        #expect(PrometheusAPITime.parse("1e9") == 1_000_000_000_000)
        #expect(PrometheusAPITime.parse("2015-06-03T13:21:58.555Z") == 1_433_337_718_555)
        #expect(PrometheusAPITime.parse("2015-06-03T14:21:58.555+01:00") == 1_433_337_718_555)
        #expect(PrometheusAPITime.parse("2015-06-03T13:21:58Z") == 1_433_337_718_000)
        #expect(PrometheusAPITime.parse("2015-06-03T13:21:58.555999999Z") == 1_433_337_718_555)
        #expect(PrometheusAPITime.parse("1969-12-31T23:59:59.5Z") == -500)
        // The bounds Prometheus clients send for "no limit".
        #expect(PrometheusAPITime.parse("-292273086-05-16T16:47:06Z") == -9_223_309_901_257_974_000)
        #expect(PrometheusAPITime.parse("292277025-08-18T07:12:54.999999999Z") == 9_223_309_901_257_974_999)
        for bad in ["", "abc", "30s", "NaN", "Inf", "2015-02-30T00:00:00Z", "2015-06-03 13:21:58Z", "2015-06-03T13:21:58", "2015-06-03T25:00:00Z",
            "2015-06-03T13:21:58.Z", "1e300"]
        {
            #expect(PrometheusAPITime.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func timesAreWrittenAsUnixSeconds() {
        func json(_ ms: Int64) -> String {
            var out = ""
            PrometheusAPITime.appendJSON(ms, to: &out)
            return out
        }
        #expect(json(1_435_781_451_781) == "1435781451.781")
        #expect(json(1_435_781_451_780) == "1435781451.780")
        #expect(json(1_435_781_451_005) == "1435781451.005")
        #expect(json(1_435_781_451_000) == "1435781451")
        #expect(json(0) == "0")
        #expect(json(-1500) == "-1.500")
        #expect(PrometheusAPITime.rfc3339(1_435_781_451_781) == "2015-07-01T20:10:51.781Z")
        #expect(PrometheusAPITime.rfc3339(0) == "1970-01-01T00:00:00.000Z")
        #expect(PrometheusAPITime.rfc3339(-1) == "1969-12-31T23:59:59.999Z")
        #expect(PrometheusAPITime.rfc3339(951_782_400_000) == "2000-02-29T00:00:00.000Z")
    }

    @Test func durationsAreSecondsOrPrometheusDurations() throws {
        #expect(try PrometheusAPIParameters.parseDuration("15s") == 15_000)
        #expect(try PrometheusAPIParameters.parseDuration("1m") == 60_000)
        #expect(try PrometheusAPIParameters.parseDuration("1h30m") == 5_400_000)
        #expect(try PrometheusAPIParameters.parseDuration("500ms") == 500)
        #expect(try PrometheusAPIParameters.parseDuration("15") == 15_000)
        #expect(try PrometheusAPIParameters.parseDuration("0.5") == 500)
        #expect(throws: SightlineError.self) { try PrometheusAPIParameters.parseDuration("x") }
        #expect(throws: SightlineError.self) { try PrometheusAPIParameters.parseDuration("") }
    }

    @Test func formsDecodeLikeGo() {
        let pairs = PrometheusAPIParameters.decodeForm("query=a+%2B+b&match%5B%5D=x&match[]=y&empty=&flag&bad=%zz&semi=1;2&utf=%C3%A9")
        #expect(pairs.map { "\($0.name)=\($0.value)" } == ["query=a + b", "match[]=x", "match[]=y", "empty=", "flag=", "utf=é"])
        let parameters = PrometheusAPIParameters(pairs: pairs)
        #expect(parameters["query"] == "a + b")
        #expect(parameters["missing"] == "")
        #expect(parameters.values("match[]") == ["x", "y"])
    }

    @Test func escapedLabelNamesUnescape() {
        #expect(PrometheusAPISeriesHandler.unescapeName("U__service_2e_name") == "service.name")
        #expect(PrometheusAPISeriesHandler.unescapeName("U__a__b") == "a_b")
        #expect(PrometheusAPISeriesHandler.unescapeName("U__caf_e9_") == "café")
        #expect(PrometheusAPISeriesHandler.unescapeName("U__bad_zz_") == "U__bad_zz_")
        #expect(PrometheusAPISeriesHandler.unescapeName("U__open_2e") == "U__open_2e")
        #expect(PrometheusAPISeriesHandler.unescapeName("plain") == "plain")
    }

    @Test func engineErrorsMapToPrometheusTypes() {
        let parse = PrometheusAPIError(PromQLError(.badData, "1:5: parse error: unexpected end of input"))
        #expect(parse.kind == .badData)
        #expect(parse.message == #"invalid parameter "query": 1:5: parse error: unexpected end of input"#)
        #expect(PrometheusAPIError(PromQLError(.execution, "e")).kind == .execution)
        #expect(PrometheusAPIError(PromQLError.timedOut).kind == .timeout)
        #expect(PrometheusAPIError(PromQLError(.canceled, "c")).kind == .canceled)
        #expect(PrometheusAPIError(PromQLError(.internal, "i")).kind == .internal)
        #expect(PrometheusAPIError(PromQLError(.unavailable, "u")).kind == .unavailable)
        #expect(PrometheusAPIError(storage: SightlineError(.unavailable, "replaying")).kind == .unavailable)
        #expect(PrometheusAPIError(storage: SightlineError(.io, "disk")).kind == .execution)
    }

    @Test func everyErrorTypeHasPrometheusStatus() async throws {
        let router = Router(context: SightlineRequestContext.self)
        let kinds: [PrometheusAPIError.Kind] = [.badData, .execution, .timeout, .canceled, .internal, .unavailable]
        for kind in kinds {
            router.get("/fail/\(kind.rawValue)") { _, _ -> Response in throw PrometheusAPIError(kind, "went \"wrong\"") }
        }
        let client = RouterClient(router)
        let expected: [PrometheusAPIError.Kind: HTTPResponse.Status] = [
            .badData: .badRequest, .execution: .unprocessableContent, .timeout: .serviceUnavailable, .canceled: .serviceUnavailable,
            .internal: .internalServerError, .unavailable: .serviceUnavailable,
        ]
        for kind in kinds {
            let reply = try await client.execute("/fail/\(kind.rawValue)")
            #expect(reply.status == expected[kind], "\(kind)")
            #expect(reply.headers[.contentType] == "application/json")
            #expect(reply.text == #"{"status":"error","errorType":"\#(kind.rawValue)","error":"went \"wrong\""}"#)
        }
    }

    @Test func statusEndpointsAnswerLikePrometheus() async throws {
        let harness = try PrometheusAPIHarness()
        let client = harness.client()
        let build = try await client.execute("/api/v1/status/buildinfo")
        #expect(build.status == .ok)
        let data = build.json["data"] as? [String: String] ?? [:]
        #expect(data["version"] == "3.0.0")
        #expect(Set(data.keys) == ["version", "revision", "branch", "buildUser", "buildDate", "goVersion"])
        let config = try await client.execute("/api/v1/status/config")
        #expect(((config.json["data"] as? [String: String])?["yaml"] ?? "").hasPrefix("global:\n  scrape_interval: 1m\n"))
        let flags = try await client.execute("/api/v1/status/flags")
        #expect(flags.text == #"{"status":"success","data":{"enable-feature":"","query.lookback-delta":"5m","query.max-samples":"50000000","query.timeout":"2m"}}"#)
        await harness.cleanUp()
    }
}
