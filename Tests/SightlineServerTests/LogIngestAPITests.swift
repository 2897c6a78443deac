import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SightlineIngest
import SightlineTestSupport
import Testing

@testable import SightlineCore
@testable import SightlineServer
@testable import SightlineStorageCore

/// The log records of a debug-records response, as JSON objects.
private func records(_ buffer: ByteBuffer) -> [[String: Any]] {
    let object = (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? [String: Any]
    let data = object?["data"] as? [String: Any]
    return data?["records"] as? [[String: Any]] ?? []
}

private func json(_ buffer: ByteBuffer) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? [String: Any] ?? [:]
}

private func storedRecords(_ client: RouterClient, token: String? = nil) async throws -> [[String: Any]] {
    var headers: HTTPFields = [:]
    if let token { headers[.authorization] = "Bearer \(token)" }
    let reply = try await client.execute("/api/v1/debug/records?signal=logs&limit=100", method: .get, headers: headers)
    #expect(reply.status == .ok)
    return records(reply.body)
}

private func base64(_ text: String) -> ByteBuffer {
    ByteBuffer(bytes: Data(base64Encoded: text) ?? Data())
}

/// A Snappy-compressed `logproto.PushRequest` with one stream.
private func lokiProtobuf(selector: String, lines: [(Int64, String)], metadata: [(String, String)] = []) -> ByteBuffer {
    var writer = ProtobufWriter()
    writer.writeMessage(1) { stream in
        stream.writeString(1, selector)
        for (seconds, line) in lines {
            stream.writeMessage(2) { entry in
                entry.writeMessage(1) { $0.writeInt64(1, seconds) }
                entry.writeString(2, line)
                for (name, value) in metadata {
                    entry.writeMessage(3) { pair in
                        pair.writeString(1, name)
                        pair.writeString(2, value)
                    }
                }
            }
        }
    }
    return ByteBuffer(bytes: Snappy.compress(writer.bytes))
}

/// The `X-Elastic-Product` header of a reply.
private func product(_ headers: HTTPFields) -> String? {
    HTTPField.Name("X-Elastic-Product").flatMap { headers[$0] }
}

struct LogIngestAPITests {
    // MARK: - Loki

    @Test func lokiJSONPushIsStored() async throws {
        let harness = try ServerHarness()
        do {
            let client = harness.client()
            let body = #"{"streams":[{"stream":{"app":"api"},"values":[["1700000000000000000","hello",{"trace_id":"t1","level":"error"}]]}]}"#
            try await client.execute("/loki/api/v1/push", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)).check {
                #expect($0.status == .noContent)
            }
            let stored = try await storedRecords(client)
            #expect(stored.count == 1)
            #expect(stored.first?["body"] as? String == "hello")
            #expect((stored.first?["stream"] as? [String: String]) == ["app": "api", "service_name": "api"])
            #expect((stored.first?["attributes"] as? [String: Any])?["trace_id"] as? String == "t1")
            #expect(stored.first?["severityNumber"] as? Int == 17)
        }
        await harness.cleanUp()
    }

    @Test func lokiGzipJSONPushIsStored() async throws {
        let harness = try ServerHarness()
        do {
            let client = harness.client()
            let body = base64("H4sIAAAAAAACA6tWKi4pSk3MLVayiq6GspWsqpUSCwqUrJTSq5RqdZTKEnNKU0EKopUMzQ3QgZIOUFlmQUFqikJOZl6qUmxsbWwtAND/A2NXAAAA")
            try await client.execute(
                "/loki/api/v1/push", method: .post, headers: [.contentType: "application/json", .contentEncoding: "gzip"], body: body
            ).check { #expect($0.status == .noContent) }
            let stored = try await storedRecords(client)
            #expect(stored.map { $0["body"] as? String } == ["gzipped line"])
        }
        await harness.cleanUp()
    }

    @Test func lokiProtobufPushIsStored() async throws {
        let harness = try ServerHarness()
        do {
            let client = harness.client()
            let body = lokiProtobuf(selector: #"{job="promtail", host="h1"}"#, lines: [(1_700_000_000, "one"), (1_700_000_001, "two")], metadata: [("pod", "p")])
            try await client.execute("/loki/api/v1/push", method: .post, headers: [.contentType: "application/x-protobuf"], body: body).check {
                #expect($0.status == .noContent)
            }
            let stored = try await storedRecords(client)
            #expect(Set(stored.compactMap { $0["body"] as? String }) == ["one", "two"])
            #expect(stored.allSatisfy { ($0["stream"] as? [String: String]) == ["job": "promtail", "host": "h1", "service_name": "promtail"] })
        }
        await harness.cleanUp()
    }

    @Test func badLokiBodiesAreRefusedWithPlainText() async throws {
        var limits = IngestLimits()
        limits.maxBodyBytes = 4096
        let harness = try ServerHarness(limits: limits)
        do {
            let client = harness.client()
            let cases: [(HTTPFields, ByteBuffer, String)] = [
                ([.contentType: "application/json"], ByteBuffer(string: "{\"streams\":["), "invalid JSON"),
                ([.contentType: "application/x-protobuf"], ByteBuffer(bytes: [0x05, 0xFF]), "snappy"),
                ([.contentType: "application/x-protobuf"], ByteBuffer(bytes: Snappy.compress([0x0A, 0x05, 0x0A])), "PushRequest"),
                ([.contentType: "application/x-protobuf"], lokiProtobuf(selector: "{foo=bar}", lines: [(1, "x")]), "error parsing labels '{foo=bar}'"),
            ]
            for (headers, body, fragment) in cases {
                try await client.execute("/loki/api/v1/push", method: .post, headers: headers, body: body).check {
                    #expect($0.status == .badRequest)
                    #expect($0.headers[.contentType]?.hasPrefix("text/plain") == true)
                    #expect(String(buffer: $0.body).lowercased().contains(fragment.lowercased()), "\(String(buffer: $0.body))")
                }
            }
            try await client.execute(
                "/loki/api/v1/push", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: String(repeating: " ", count: 5000))
            ).check { #expect($0.status == .contentTooLarge) }
            #expect(try await storedRecords(client).isEmpty)
        }
        await harness.cleanUp()
    }

    // MARK: - Elasticsearch

    @Test func bulkStoresDocumentsAndAnswersLikeElasticsearch() async throws {
        let harness = try ServerHarness()
        do {
            let client = harness.client()
            let body = [
                #"{"index":{"_index":"logs-a","_id":"id-1"}}"#,
                #"{"@timestamp":"2024-05-01T12:30:00Z","message":"first","host":{"name":"web-1"},"log":{"level":"info"}}"#,
                #"{"create":{}}"#,
                #"{"@timestamp":1714566600123,"message":"second"}"#,
                #"{"index":{}}"#,
                #"["not an object"]"#,
                #"{"delete":{"_id":"x"}}"#,
            ].joined(separator: "\n") + "\n"
            try await client.execute("/path-index/_bulk", method: .post, headers: [.contentType: "application/x-ndjson"], body: ByteBuffer(string: body)).check { reply in
                #expect(reply.status == .ok)
                #expect(product(reply.headers) == "Elasticsearch")
                let answer = json(reply.body)
                #expect(answer["errors"] as? Bool == true)
                #expect(answer["took"] is Int)
                let items = answer["items"] as? [[String: [String: Any]]] ?? []
                #expect(items.count == 4)
                #expect(items[0]["index"]?["_index"] as? String == "logs-a")
                #expect(items[0]["index"]?["_id"] as? String == "id-1")
                #expect(items[0]["index"]?["status"] as? Int == 201)
                #expect(items[0]["index"]?["result"] as? String == "created")
                #expect(items[1]["create"]?["_index"] as? String == "path-index")
                #expect((items[1]["create"]?["_id"] as? String)?.count == 20)
                #expect(items[2]["index"]?["status"] as? Int == 400)
                #expect((items[2]["index"]?["error"] as? [String: Any])?["type"] as? String == "mapper_parsing_exception")
                #expect(items[3]["delete"]?["status"] as? Int == 400)
            }
            let stored = try await storedRecords(client)
            #expect(Set(stored.compactMap { $0["body"] as? String }) == ["first", "second"])
            let first = stored.first { $0["body"] as? String == "first" }
            #expect((first?["stream"] as? [String: String]) == ["index": "logs-a"])
            #expect((first?["attributes"] as? [String: Any])?["host.name"] as? String == "web-1")
            #expect(first?["severityNumber"] as? Int == 9)
        }
        await harness.cleanUp()
    }

    /// A document the ingestion limits refuse is refused as its own item, naming the limit; the others are stored.
    @Test func bulkItemsOverTheLimitsAreRefusedAlone() async throws {
        var limits = IngestLimits()
        limits.maxLogBodyBytes = 10
        let harness = try ServerHarness(limits: limits)
        do {
            let client = harness.client()
            let body = "{\"index\":{\"_index\":\"a\"}}\n{\"message\":\"short\"}\n{\"index\":{\"_index\":\"a\"}}\n{\"message\":\"far longer than ten bytes\"}\n"
                + "{\"index\":{\"_index\":\"a\"}}\n{\"message\":\"after\",\"level\":\"warn\"}\n"
            try await client.execute("/_bulk", method: .post, body: ByteBuffer(string: body)).check { reply in
                #expect(reply.status == .ok)
                let items = json(reply.body)["items"] as? [[String: [String: Any]]] ?? []
                #expect(items.map { $0["index"]?["status"] as? Int } == [201, 400, 201])
                let error = items[1]["index"]?["error"] as? [String: Any]
                #expect(error?["type"] as? String == "illegal_argument_exception")
                #expect((error?["reason"] as? String)?.contains("limits.max_log_body_bytes") == true)
            }
            // Body → severity number of what was stored (the records have equal times: their order is not fixed).
            let stored = try await storedRecords(client)
            let severities = Dictionary(stored.map { ($0["body"] as? String ?? "", $0["severityNumber"] as? Int ?? -1) }) { a, _ in a }
            #expect(severities == ["short": 0, "after": 13])
        }
        await harness.cleanUp()
    }

    @Test func gzipBulkAndWholeRequestErrors() async throws {
        let harness = try ServerHarness()
        do {
            let client = harness.client()
            let gzipped = base64("H4sIAAAAAAACA6tWysxLSa1QsqpWioeylNKrdCHM2lquaqXc1OLixPRUsHhmQUFqikJKfrJSLRcA7f3BbToAAAA=")
            try await client.execute("/_bulk", method: .post, headers: [.contentType: "application/x-ndjson", .contentEncoding: "gzip"], body: gzipped).check {
                #expect($0.status == .ok)
                #expect(json($0.body)["errors"] as? Bool == false)
            }
            #expect(try await storedRecords(client).map { $0["body"] as? String } == ["gzipped doc"])
            let missingAction = "{\"index\":{\"_index\":\"a\"}}\n{\"message\":\"x\"}\n{\"message\":\"no action\"}\n"
            try await client.execute("/_bulk", method: .post, body: ByteBuffer(string: missingAction)).check { reply in
                #expect(reply.status == .badRequest)
                #expect(product(reply.headers) == "Elasticsearch")
                let error = json(reply.body)["error"] as? [String: Any]
                #expect(error?["type"] as? String == "illegal_argument_exception")
                #expect((error?["reason"] as? String)?.contains("Malformed action/metadata line [3]") == true)
                #expect(json(reply.body)["status"] as? Int == 400)
            }
            try await client.execute("/_bulk", method: .post, body: ByteBuffer(string: "{\"index\":{}}\n{}\n")).check {
                #expect($0.status == .badRequest)
                #expect(String(buffer: $0.body).contains("index is missing"))
            }
            #expect(try await storedRecords(client).count == 1)
        }
        await harness.cleanUp()
    }

    @Test func probeEndpointsAnswerLikeElasticsearch() async throws {
        let harness = try ServerHarness()
        do {
            let client = harness.client()
            try await client.execute("/", method: .get).check { reply in
                #expect(reply.status == .ok)
                #expect(product(reply.headers) == "Elasticsearch")
                let info = json(reply.body)
                #expect(info["tagline"] as? String == "You Know, for Search")
                let version = info["version"] as? [String: Any]
                #expect(version?["number"] as? String == "8.11.0")
                #expect(version?["build_flavor"] as? String == "default")
                #expect(version?["lucene_version"] is String)
                #expect(info["cluster_uuid"] is String)
            }
            try await client.execute("/_license", method: .get).check { reply in
                let license = json(reply.body)["license"] as? [String: Any]
                #expect(license?["type"] as? String == "basic")
                #expect(license?["status"] as? String == "active")
            }
            for prefix in ["/_index_template", "/_template", "/_ilm/policy", "/_data_stream"] {
                for method in [HTTPRequest.Method.head, .get] {
                    try await client.execute("\(prefix)/filebeat-8.11.0", method: method).check {
                        #expect($0.status == .ok, "\(method) \(prefix)")
                        #expect(product($0.headers) == "Elasticsearch")
                    }
                }
                try await client.execute("\(prefix)/filebeat-8.11.0", method: .put, body: ByteBuffer(string: "{}")).check {
                    #expect($0.status == .ok)
                    #expect(json($0.body)["acknowledged"] as? Bool == true)
                }
            }
            try await client.execute("/some-index", method: .head).check { #expect($0.status == .ok) }
            try await client.execute("/_cluster/health", method: .get).check { #expect(json($0.body)["status"] as? String == "green") }
        }
        await harness.cleanUp()
    }

    // MARK: - Tenants and auth

    @Test func tenantsSeeOnlyTheirOwnLogs() async throws {
        let harness = try ServerHarness(tokens: [
            TokenGrant(token: "acme", tenant: Tenant(uncheckedID: "acme"), roles: [.ingest, .query]),
            TokenGrant(token: "globex", tenant: Tenant(uncheckedID: "globex"), roles: [.ingest, .query]),
            TokenGrant(token: "reader", tenant: Tenant(uncheckedID: "acme"), roles: [.query]),
        ])
        do {
            let client = harness.client()
            let loki = #"{"streams":[{"stream":{"app":"a"},"values":[["1","acme-loki"]]}]}"#
            try await client.execute(
                "/loki/api/v1/push", method: .post, headers: [.contentType: "application/json", .authorization: "Bearer acme"], body: ByteBuffer(string: loki)
            ).check { #expect($0.status == .noContent) }
            try await client.execute(
                "/globex-index/_bulk", method: .post, headers: [.authorization: "Bearer globex"],
                body: ByteBuffer(string: "{\"index\":{}}\n{\"message\":\"globex-es\"}\n")
            ).check { #expect($0.status == .ok) }
            #expect(try await storedRecords(client, token: "acme").map { $0["body"] as? String } == ["acme-loki"])
            #expect(try await storedRecords(client, token: "globex").map { $0["body"] as? String } == ["globex-es"])

            try await client.execute("/loki/api/v1/push", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: loki)).check {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(
                "/loki/api/v1/push", method: .post, headers: [.contentType: "application/json", .authorization: "Bearer reader"], body: ByteBuffer(string: loki)
            ).check { #expect($0.status == .forbidden) }
            try await client.execute("/_bulk", method: .post, headers: [.authorization: "Bearer reader"], body: ByteBuffer(string: "{\"index\":{\"_index\":\"x\"}}\n{}\n")).check {
                #expect($0.status == .forbidden)
                #expect((json($0.body)["error"] as? [String: Any])?["type"] as? String == "security_exception")
            }
            try await client.execute("/", method: .get).check { #expect($0.status == .unauthorized) }
            #expect(try await storedRecords(client, token: "acme").count == 1)
        }
        await harness.cleanUp()
    }
}

struct BulkDocumentIDTests {
    /// The response in Elasticsearch's shape, byte for byte: stored items with their `_seq_no` in order, refused
    /// ones with their error, the sender's ids kept and escaped, made-up ones 20 characters.
    @Test func responseNamesEveryItemInElasticsearchsShape() throws {
        let items = [
            ElasticsearchBulkItem(action: "create", index: "logs-a", id: "x\"1"),
            ElasticsearchBulkItem(action: "index", index: "logs-a"),
            ElasticsearchBulkItem(
                action: "create", index: "logs-b", status: 400, errorType: "mapper_parsing_exception", errorReason: "bad \"x\""),
            ElasticsearchBulkItem(action: "create", index: "logs-b"),
        ]
        let text = String(decoding: ElasticsearchHandler.bulkResponse(items, took: 7), as: UTF8.self)
        let madeUp = try #require(text.firstMatch(of: #/"index":\{"_index":"logs-a","_id":"([A-Za-z0-9_-]{20})"/#)?.output.1)
        let second = try #require(text.firstMatch(of: #/"create":\{"_index":"logs-b","_id":"([A-Za-z0-9_-]{20})"/#)?.output.1)
        #expect(madeUp != second)
        let created = #","_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"#
        #expect(text.replacing(String(madeUp), with: "ID1").replacing(String(second), with: "ID2") == #"{"took":7,"errors":true,"items":["#
            + #"{"create":{"_index":"logs-a","_id":"x\"1"\#(created)"_seq_no":0,"_primary_term":1,"status":201}},"#
            + #"{"index":{"_index":"logs-a","_id":"ID1"\#(created)"_seq_no":1,"_primary_term":1,"status":201}},"#
            + #"{"create":{"_index":"logs-b","status":400,"error":{"type":"mapper_parsing_exception","reason":"bad \"x\""}}},"#
            + #"{"create":{"_index":"logs-b","_id":"ID2"\#(created)"_seq_no":2,"_primary_term":1,"status":201}}]}"#)
    }

    /// Made-up ids are 20 URL-safe characters, distinct within a response and across responses.
    @Test func idsAreURLSafeAndDistinct() {
        var first = ElasticsearchHandler.DocumentIDs()
        var second = ElasticsearchHandler.DocumentIDs()
        func next(_ ids: inout ElasticsearchHandler.DocumentIDs) -> String {
            var text: [UInt8] = []
            ids.append(to: &text)
            return String(decoding: text, as: UTF8.self)
        }
        let ids = (0..<5000).map { _ in next(&first) } + (0..<5000).map { _ in next(&second) }
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        #expect(ids.allSatisfy { $0.count == 20 && $0.allSatisfy(allowed.contains) })
        #expect(Set(ids).count == ids.count)
    }
}
