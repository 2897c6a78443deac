import Foundation
import HTTPTypes
import NIOCore
import SightlineTestSupport
import Testing

@testable import SightlineCore
@testable import SightlineServer

/// `/loki/api/v1/delete` over the embedded log store, through the pipeline and WAL.
struct LokiDeleteAPITests {
    private static func form(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    /// Lines `line 0` … `line 9` of streams `{service_name="api"}` and `{service_name="web"}`, a second apart from
    /// 10⁹ s (2001-09-09T01:46:40Z), the even ones at error level in their text.
    private static func write(_ harness: PrometheusAPIHarness) async throws {
        var records: [LogRecord] = []
        for service in ["api", "web"] {
            for i in 0..<10 {
                records.append(
                    LogRecord(
                        timeUnixNano: UInt64(1_000_000_000 + i) * 1_000_000_000, body: .string("\(i % 2 == 0 ? "error" : "info") line \(i)"),
                        resource: [Attribute("service.name", .string(service))]))
            }
        }
        _ = try await harness.api.pipeline.ingest(DecodedBatch(.logs(records)), tenant: .default, protocol: "test", bytes: 0)
    }

    /// `service line-number` of every stored record, in time order.
    private static func stored(_ harness: PrometheusAPIHarness) throws -> [String] {
        var lines: [String] = []
        try harness.api.logs.scan(LogScan(tenant: .default, matchers: [], range: .all, direction: .forward)) { record in
            lines.append("\(record.streamLabels["service_name"] ?? "?") \(record.line)")
            return true
        }
        return lines
    }

    @Test func aDeleteRequestRemovesTheLinesItCoversAndIsListed() async throws {
        let harness = try PrometheusAPIHarness()
        let client = harness.client()
        try await Self.write(harness)
        let query = #"{service_name="api"} |= "error" != "line 8""#
        let reply = try await client.execute(
            "/loki/api/v1/delete?query=\(Self.form(query))&start=1000000002&end=2001-09-09T01:46:48Z", method: .post)
        #expect(reply.status == .noContent, "\(reply.text)")
        let lines = try Self.stored(harness)
        #expect(!lines.contains("api error line 2") && !lines.contains("api error line 4") && !lines.contains("api error line 6"))
        #expect(lines.contains("api error line 0") && lines.contains("api error line 8") && lines.contains("api info line 3"))
        #expect(lines.filter { $0.hasPrefix("web") }.count == 10 && lines.count == 17)

        let list = try await client.execute("/loki/api/v1/delete")
        #expect(list.status == .ok)
        let requests = try #require(try JSONSerialization.jsonObject(with: Data(list.body.readableBytesView)) as? [[String: Any]])
        #expect(requests.count == 1)
        let request = requests[0]
        #expect(request["query"] as? String == query && request["status"] as? String == "processed")
        #expect(request["start_time"] as? Double == 1_000_000_002 && request["end_time"] as? Double == 1_000_000_008)
        let id = try #require(request["request_id"] as? String)
        #expect(id.count == 8)
        let cancel = try await client.execute("/loki/api/v1/delete?request_id=\(id)", method: .delete)
        #expect(cancel.status == .badRequest && cancel.text == "deletion of request which is in process or already processed is not allowed\n")
        let unknown = try await client.execute("/loki/api/v1/delete?request_id=nope", method: .delete)
        #expect(unknown.status == .notFound && unknown.text == "could not find delete request with given id\n")
        await harness.cleanUp()
    }

    @Test func badDeleteRequestsAreRefusedWithLokisReasons() async throws {
        let harness = try PrometheusAPIHarness()
        let client = harness.client()
        let cases: [(String, String)] = [
            ("start=1000000000", "query not set"),
            ("query=\(Self.form(#"{a="b"}"#))", "start time not set"),
            ("query=\(Self.form(#"{a="b"}"#))&start=yesterday", "invalid start time: require unix seconds or RFC3339 format"),
            ("query=\(Self.form(#"{a="b"}"#))&start=1000000000&end=5", "invalid end time: require unix seconds or RFC3339 format"),
            ("query=\(Self.form(#"{a="b"}"#))&start=1000000000&end=9999999999", "deletes in the future are not allowed"),
            ("query=\(Self.form(#"{a="b"}"#))&start=1000000009&end=1000000000", "start time can't be greater than end time"),
            ("query=\(Self.form(#"{a="b"} | json"#))&start=1000000000",
             "invalid query expression: only line filters (|=, !=, |~, !~) may follow the stream selector of a delete query"),
            ("query=\(Self.form(#"count_over_time({a="b"}[1m])"#))&start=1000000000",
             "invalid query expression: a delete query is a stream selector with optional line filters"),
        ]
        for (parameters, message) in cases {
            let reply = try await client.execute("/loki/api/v1/delete?\(parameters)", method: .post)
            #expect(reply.status == .badRequest, "\(parameters)")
            #expect(reply.text == message + "\n", "\(parameters)")
        }
        let unparsable = try await client.execute("/loki/api/v1/delete?query=\(Self.form("{a="))&start=1000000000", method: .post)
        #expect(unparsable.status == .badRequest)
        await harness.cleanUp()
    }

    @Test func deletingNeedsTheAdminRole() async throws {
        let acme = Tenant(uncheckedID: "acme")
        let harness = try PrometheusAPIHarness(tokens: [
            TokenGrant(token: "read", tenant: acme, roles: [.query]), TokenGrant(token: "ops", tenant: acme, roles: [.admin]),
        ])
        let client = harness.client()
        let path = "/loki/api/v1/delete?query=\(Self.form(#"{a="b"}"#))&start=1000000000"
        #expect(try await client.execute(path, method: .post, headers: [.authorization: "Bearer read"]).status == .forbidden)
        #expect(try await client.execute(path, method: .post, headers: [.authorization: "Bearer ops"]).status == .noContent)
        let list = try await client.execute("/loki/api/v1/delete", headers: [.authorization: "Bearer read"])
        #expect(list.status == .ok && list.text.contains("\"request_id\""))
        // Without a token: 401.
        #expect(try await harness.client().execute("/loki/api/v1/delete").status == .unauthorized)
        await harness.cleanUp()
    }
}
