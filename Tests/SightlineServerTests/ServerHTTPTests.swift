import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SightlineTestSupport
import Testing

import SightlineIngest
@testable import SightlineCore
@testable import SightlineServer
@testable import SightlineStorageCore

private func logsJSON(_ bodies: [String]) -> ByteBuffer {
    let records = bodies.map { #"{"timeUnixNano":"1700000000000000000","severityNumber":9,"body":{"stringValue":"\#($0)"}}"# }
    return ByteBuffer(string: #"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeLogs":[{"logRecords":[\#(records.joined(separator: ","))]}]}]}"#)
}

/// The log bodies of a debug-records response; empty when the response is not the expected JSON.
private func bodies(_ buffer: ByteBuffer) -> [String] {
    let object = (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? [String: Any]
    let data = object?["data"] as? [String: Any]
    let records = data?["records"] as? [[String: Any]] ?? []
    return records.compactMap { $0["body"] as? String }
}

struct ServerHTTPTests {
    @Test func otlpJSONLogsAreStoredAndReadBack() async throws {
        let harness = try ServerHarness()
        do {
            let client = harness.client()
            try await client.execute("/v1/logs", method: .post, headers: [.contentType: "application/json"], body: logsJSON(["one", "two"])).check { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "{}")
            }
            // The agent's `compression: snappy`: the block format, as remote write and Loki send it.
            let snappy = Snappy.compress(Array(logsJSON(["three"]).readableBytesView))
            try await client.execute(
                "/v1/logs", method: .post, headers: [.contentType: "application/json", .contentEncoding: "snappy"], body: ByteBuffer(bytes: snappy)
            ).check { #expect($0.status == .ok) }
            try await client.execute("/api/v1/debug/records?signal=logs&limit=10", method: .get).check { response in
                #expect(response.status == .ok)
                #expect(Set(bodies(response.body)) == ["one", "two", "three"])
            }
        }
        await harness.cleanUp()
    }

    @Test func tenantsSeeOnlyTheirOwnRecords() async throws {
        let harness = try ServerHarness(tokens: [
            TokenGrant(token: "acme", tenant: Tenant(uncheckedID: "acme"), roles: [.ingest, .query]),
            TokenGrant(token: "globex", tenant: Tenant(uncheckedID: "globex"), roles: [.ingest, .query]),
            TokenGrant(token: "acme-read", tenant: Tenant(uncheckedID: "acme"), roles: [.query]),
        ])
        do {
            let client = harness.client()
            for (token, body) in [("acme", "acme-secret"), ("globex", "globex-secret")] {
                try await client.execute(
                    "/v1/logs", method: .post, headers: [.contentType: "application/json", .authorization: "Bearer \(token)"],
                    body: logsJSON([body])
                ).check { #expect($0.status == .ok) }
            }
            try await client.execute("/api/v1/debug/records?signal=logs", method: .get, headers: [.authorization: "Bearer acme-read"]).check { response in
                #expect(bodies(response.body) == ["acme-secret"])
            }
            try await client.execute("/api/v1/debug/records?signal=logs", method: .get, headers: [.authorization: "Bearer globex"]).check { response in
                #expect(bodies(response.body) == ["globex-secret"])
            }
            try await client.execute("/api/v1/debug/records?signal=logs", method: .get).check { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body).contains("\"errorType\":\"unauthorized\""))
            }
            try await client.execute(
                "/v1/logs", method: .post, headers: [.contentType: "application/json", .authorization: "Bearer acme-read"], body: logsJSON(["x"])
            ).check { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute("/metrics", method: .get, headers: [.authorization: "Bearer acme"]).check { response in
                #expect(response.status == .forbidden)
            }
        }
        await harness.cleanUp()
    }

    @Test func badRequestsAreRefusedAndStoreNothing() async throws {
        var limits = IngestLimits()
        limits.maxBodyBytes = 1024
        let harness = try ServerHarness(limits: limits)
        do {
            let client = harness.client()
            try await client.execute("/v1/logs", method: .post, headers: [.contentType: "text/plain"], body: ByteBuffer(string: "hi")).check {
                #expect($0.status == .unsupportedMediaType)
                #expect(String(buffer: $0.body).contains("text/plain"))
            }
            try await client.execute("/v1/logs", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{\"resourceLogs\":[")).check {
                #expect($0.status == .badRequest)
            }
            try await client.execute(
                "/v1/traces", method: .post, headers: [.contentType: "application/x-protobuf"], body: ByteBuffer(bytes: [0x0A, 0xFF, 0x01])
            ).check { response in
                #expect(response.status == .badRequest)
                #expect(response.headers[.contentType] == "application/x-protobuf")
            }
            try await client.execute(
                "/v1/logs", method: .post, headers: [.contentType: "application/json"], body: logsJSON([String(repeating: "x", count: 2000)])
            ).check { #expect($0.status == .contentTooLarge) }
            try await client.execute("/v1/logs", method: .post, headers: [.contentType: "application/json", .contentEncoding: "br"], body: logsJSON(["x"])).check {
                #expect($0.status == .unsupportedMediaType)
            }
            try await client.execute(
                "/v1/logs", method: .post, headers: [.contentType: "application/json", .contentEncoding: "snappy"], body: ByteBuffer(bytes: [0x05, 0x00])
            ).check { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("snappy"))
            }
            for signal in ["logs", "traces", "metrics"] {
                try await client.execute("/api/v1/debug/records?signal=\(signal)", method: .get).check { response in
                    #expect(String(buffer: response.body).contains("\"records\":[]"))
                }
            }
            try await client.execute("/api/v1/debug/records?signal=bogus", method: .get).check { #expect($0.status == .badRequest) }
            try await client.execute("/metrics", method: .get).check { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("sightline_refused_requests_total"))
            }
        }
        await harness.cleanUp()
    }

    @Test func notReadyUntilReplayIsDone() async throws {
        let harness = try ServerHarness(replay: false)
        do {
            let client = harness.client()
            try await client.execute("/-/healthy", method: .get).check { #expect($0.status == .ok) }
            try await client.execute("/-/ready", method: .get).check { #expect($0.status == .serviceUnavailable) }
            try await client.execute("/v1/logs", method: .post, headers: [.contentType: "application/json"], body: logsJSON(["early"])).check {
                #expect($0.status == .serviceUnavailable)
            }
            try harness.api.pipeline.replayAndOpen()
            try await client.execute("/-/ready", method: .get).check { #expect($0.status == .ok) }
        }
        await harness.cleanUp()
    }
}
