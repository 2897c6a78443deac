import Foundation
import HTTPTypes
import Logging
import NIOCore
import SightlineTestSupport
import Testing

@testable import SightlineCore
import SightlineLogStore
import SightlineStorageCore
import SightlineTSDB
import SightlineTraceStore
@testable import SightlineServer

/// `/api/v1/admin/tsdb/delete_series` and `clean_tombstones` over the embedded engine, through the pipeline and WAL.
struct PrometheusAdminTests {
    private static func form(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    @Test func deleteSeriesRemovesSamplesInRangeAndSurvivesRestart() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-admin")
        defer { temporary.remove() }
        var harness = try EmbeddedMetricsHarness(temporary.path)
        try await harness.write()
        try await harness.api.pipeline.checkpoint()  // the samples are in a block now
        // Two selectors; up{instance="a"} from minute 18 through 21 (seconds), all of `load`.
        let reply = try await harness.client().execute(
            "/api/v1/admin/tsdb/delete_series?match[]=\(Self.form(#"up{instance="a"}"#))&match[]=load&start=1080&end=1260", method: .post)
        #expect(reply.status == .noContent)
        let afterRange = [#"up{instance="a"} 16,17,21,22,23,24,25"#, #"up{instance="b"} 16,17,18,19,20,21,22,23,24,25"#]
        #expect(try harness.stored() == [#"load 16,17,21,22,23,24,25"#] + afterRange)
        let whole = try await harness.client().execute(
            "/api/v1/admin/tsdb/delete_series", method: .put, headers: [.contentType: "application/x-www-form-urlencoded"],
            body: ByteBuffer(string: "match[]=load"))
        #expect(whole.status == .noContent)
        #expect(try harness.stored() == afterRange)
        let tombstones = try await harness.client().execute("/api/v1/admin/tsdb/clean_tombstones", method: .post)
        #expect(tombstones.status == .noContent)

        // A crash: the deletions come back from the WAL in order with the writes around them.
        try await harness.api.pipeline.wal.close()
        harness = try EmbeddedMetricsHarness(temporary.path)
        #expect(try harness.stored() == afterRange)
        // Written again after the deletion, the samples are kept; a clean restart keeps everything as it was.
        try await harness.write(value: 2)
        let rewritten = try harness.stored()
        #expect(rewritten.count == 3 && rewritten[1] == #"up{instance="a"} 16,17,18,19,20,21,22,23,24,25"#)
        try await harness.api.pipeline.shutdown()
        harness = try EmbeddedMetricsHarness(temporary.path)
        #expect(try harness.stored() == rewritten)
        try await harness.api.pipeline.shutdown()
    }

    @Test func snapshotWritesAnEngineDirectoryNamedAsPrometheusNamesThem() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-admin")
        defer { temporary.remove() }
        let harness = try EmbeddedMetricsHarness(temporary.path)
        try await harness.write()
        let reply = try await harness.client().execute("/api/v1/admin/tsdb/snapshot", method: .post)
        #expect(reply.status == .ok)
        let name = try #require((reply.json["data"] as? [String: Any])?["name"] as? String)
        #expect(name.wholeMatch(of: /\d{8}T\d{6}Z-[0-9a-f]+/) != nil, "\(name)")
        let snapshot = try TSDB(directory: temporary.path + "/snapshots/" + name, logger: Logger(label: "test"))
        let all = [try LabelMatcher("__name__", .regexMatch, ".+")]
        #expect(try snapshot.select(tenant: .default, matchers: all, startMs: .min, endMs: .max).count == 3)
        let skipped = try await harness.client().execute("/api/v1/admin/tsdb/snapshot?skip_head=true", method: .put)
        let emptyName = try #require((skipped.json["data"] as? [String: Any])?["name"] as? String)
        let empty = try TSDB(directory: temporary.path + "/snapshots/" + emptyName, logger: Logger(label: "test"))
        #expect(try empty.select(tenant: .default, matchers: all, startMs: .min, endMs: .max).isEmpty)
        let bad = try await harness.client().execute("/api/v1/admin/tsdb/snapshot?skip_head=maybe", method: .post)
        #expect(bad.status == .badRequest)
        #expect(bad.errorMessage == #"unable to parse boolean 'skip_head' argument: strconv.ParseBool: parsing "maybe": invalid syntax"#)
        try await harness.api.pipeline.shutdown()
    }

    @Test func deleteSeriesErrors() async throws {
        let temporary = try TemporaryDirectory(prefix: "sightline-admin")
        defer { temporary.remove() }
        let acme = Tenant(uncheckedID: "acme")
        let harness = try EmbeddedMetricsHarness(
            temporary.path, tokens: [TokenGrant(token: "read", tenant: acme, roles: [.query]), TokenGrant(token: "ops", tenant: acme, roles: [.admin])])
        let client = harness.client()
        let cases: [(String, String)] = [
            ("/api/v1/admin/tsdb/delete_series", "no match[] parameter provided"),
            ("/api/v1/admin/tsdb/delete_series?match[]=\(Self.form(#"{job=~".*"}"#))", "match[] must contain at least one non-empty matcher"),
            ("/api/v1/admin/tsdb/delete_series?match[]=up&start=yesterday",
             #"invalid parameter "start": invalid time value for 'start': cannot parse "yesterday" to a valid timestamp"#),
        ]
        for (path, message) in cases {
            let reply = try await client.execute(path, method: .post, headers: [.authorization: "Bearer ops"])
            #expect(reply.status == .badRequest, "\(path)")
            #expect(reply.errorType == "bad_data", "\(path)")
            #expect(reply.errorMessage == message, "\(path)")
        }
        let unparsable = try await client.execute("/api/v1/admin/tsdb/delete_series?match[]=\(Self.form("up{"))", method: .post, headers: [.authorization: "Bearer ops"])
        #expect(unparsable.status == .badRequest && unparsable.errorMessage.hasPrefix("1:"))
        let reader = try await client.execute("/api/v1/admin/tsdb/delete_series?match[]=up", method: .post, headers: [.authorization: "Bearer read"])
        #expect(reader.status == .forbidden)
        let anonymous = try await client.execute("/api/v1/admin/tsdb/clean_tombstones", method: .post)
        #expect(anonymous.status == .unauthorized)
        let get = try await client.execute("/api/v1/admin/tsdb/delete_series?match[]=up", headers: [.authorization: "Bearer ops"])
        #expect(get.status == .methodNotAllowed || get.status == .notFound)
        try await harness.api.pipeline.shutdown()
    }

    /// Without the embedded engine (metrics in ClickHouse), deleting is refused and names why.
    @Test func deleteSeriesNeedsTheEmbeddedEngine() async throws {
        let harness = try PrometheusAPIHarness.withFixtures()
        let reply = try await harness.client().execute("/api/v1/admin/tsdb/delete_series?match[]=up", method: .post)
        #expect(reply.status == .serviceUnavailable)
        #expect(reply.errorType == "unavailable")
        #expect(reply.errorMessage.contains("embedded metrics engine"))
        await harness.cleanUp()
    }
}
