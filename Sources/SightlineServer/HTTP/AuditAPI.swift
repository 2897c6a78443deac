import HTTPTypes
package import Hummingbird
import NIOCore
import SightlineAuditStore
import SightlineCore
import SightlineIngest

/// The audit routes: ingestion from AuditKit's relay, and the customer's own view of their trail.
///
/// | Route | Role | |
/// |---|---|---|
/// | `POST /api/v1/audit/events` | ingest | `{"events":[…]}`; 200 `{"accepted":N,"duplicates":M}` after fsync |
/// | `GET /api/v1/audit/events` | query | filters `actor`, `actor_type`, `action` (`prefix*`), `resource_type`, `resource_id`, `outcome`, `start`, `end`, `q`; `limit` (default 100, at most 1000), `cursor`; newest first |
/// | `GET /api/v1/audit/export?format=ndjson\|csv` | query | every matching event, same filters |
/// | `GET /api/v1/audit/verify[?from=SEQ\|TIME]` | query | the chain and digests checked from the files |
/// | `GET /api/v1/audit/digests` | query | the signed digests, to check offline with the public key |
/// | `GET /api/v1/audit/public-key` | query | the Ed25519 key that signs digests, PEM |
/// | `GET, POST /api/v1/audit/holds`, `DELETE /api/v1/audit/holds/{id}` | admin | legal holds |
///
/// Every route sees the caller's tenant only; there is no route that changes or deletes an event. Reading the trail
/// (search, export, verify) and placing or releasing a hold are recorded as audit events of that tenant.
package enum AuditAPI {
    static let defaultLimit = 100
    static let maxLimit = 1000
    /// The request id header proxies and clients set, copied into the audit records of reads.
    static let requestIDHeader = HTTPField.Name("X-Request-ID")

    package static func addRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies) {
        router.post("/api/v1/audit/events") { request, _ in try await ingest(request, api: api) }
        router.get("/api/v1/audit/events") { request, context in try await search(request, context: context, api: api) }
        router.get("/api/v1/audit/export") { request, context in try await export(request, context: context, api: api) }
        router.get("/api/v1/audit/verify") { request, context in try await verify(request, context: context, api: api) }
        router.get("/api/v1/audit/digests") { request, _ in try await digests(request, api: api) }
        router.get("/api/v1/audit/public-key") { request, _ in
            _ = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
            let store = try self.store(api)
            return Response(
                status: .ok, headers: [.contentType: "application/x-pem-file"], body: ResponseBody(byteBuffer: ByteBuffer(string: store.publicKeyPEM)))
        }
        router.get("/api/v1/audit/holds") { request, _ in
            let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .admin)
            let holds = try await store(api).holds(tenant: identity.tenant)
            return json("{\"holds\":[" + holds.map(holdJSON).joined(separator: ",") + "]}")
        }
        router.post("/api/v1/audit/holds") { request, context in try await placeHold(request, context: context, api: api) }
        router.delete("/api/v1/audit/holds/:id") { request, context in
            let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .admin)
            let id = context.parameters.get("id") ?? ""
            guard try await store(api).releaseHold(id: id, tenant: identity.tenant) else {
                throw SightlineError(.notFound, "tenant \(identity.tenant) has no hold \"\(id)\"")
            }
            try await record("audit.hold.release", identity: identity, request: request, context: context, api: api, attributes: [("hold", id)])
            return json("{\"released\":" + JSONText.quoted(id) + "}")
        }
    }

    private static func store(_ api: APIDependencies) throws -> any AuditBackend {
        guard let audit = api.audit else { throw SightlineError(.unavailable, "the audit store is not running in this server") }
        return audit
    }

    /// `POST /api/v1/audit/events`.
    static func ingest(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .ingest)
        let store = try store(api)
        var request = request
        let body = try await OTLPHTTPHandler.collectBody(&request, limit: api.limits.maxBodyBytes)
        let bytes = try OTLPHTTPHandler.decompress(body, encoding: request.headers[.contentEncoding], limit: api.limits.maxBodyBytes)
        let events = try AuditEventDecoder.decode(bytes, tenant: identity.tenant)
        let result = try await store.append(events, tenant: identity.tenant, now: nowNano())
        api.metrics.auditEvents(accepted: result.accepted, duplicates: result.duplicates)
        return json("{\"accepted\":\(result.accepted),\"duplicates\":\(result.duplicates)}")
    }

    /// `GET /api/v1/audit/events`.
    static func search(_ request: Request, context: SightlineRequestContext, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let store = try store(api)
        let parameters = try await PrometheusAPIParameters.read(request)
        let filter = try self.filter(parameters)
        var limit = defaultLimit
        if !parameters["limit"].isEmpty {
            guard let parsed = Int(parameters["limit"]), parsed > 0 else {
                throw SightlineError(.invalidArgument, "limit \"\(parameters["limit"])\" is not a positive integer")
            }
            limit = min(parsed, maxLimit)
        }
        // The cursor is opaque: the store hands it out and refuses one it did not.
        let cursor = parameters["cursor"].isEmpty ? nil : parameters["cursor"]
        let page = try await store.search(tenant: identity.tenant, filter: filter, limit: limit, cursor: cursor)
        var body = "{\"events\":["
        for (index, event) in page.events.enumerated() {
            if index > 0 { body += "," }
            appendJSON(event, to: &body)
        }
        body += "],\"next_cursor\":" + (page.next.map { JSONText.quoted($0) } ?? "null") + "}"
        try await record("audit.search", identity: identity, request: request, context: context, api: api, attributes: queryAttributes(request))
        return json(body)
    }

    /// `GET /api/v1/audit/export`: NDJSON (one event per line) or CSV with a header row, newest first.
    static func export(_ request: Request, context: SightlineRequestContext, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let store = try store(api)
        let parameters = try await PrometheusAPIParameters.read(request)
        let filter = try self.filter(parameters)
        let format = parameters["format"].isEmpty ? "ndjson" : parameters["format"]
        guard format == "ndjson" || format == "csv" else {
            throw SightlineError(.invalidArgument, "format \"\(format)\" is not supported: use ndjson or csv")
        }
        // The export is recorded before it streams: the reading happened even if the client stops half-way.
        try await record("audit.export", identity: identity, request: request, context: context, api: api, attributes: queryAttributes(request))
        let tenant = identity.tenant
        let firstPage = try await store.search(tenant: tenant, filter: filter, limit: maxLimit, cursor: nil)
        let body = ResponseBody { writer in
            var page = firstPage
            if format == "csv" { try await writer.write(ByteBuffer(string: AuditCSV.header)) }
            while true {
                var chunk = ""
                for event in page.events {
                    if format == "csv" {
                        AuditCSV.append(event, to: &chunk)
                    } else {
                        appendJSON(event, to: &chunk)
                        chunk += "\n"
                    }
                }
                if !chunk.isEmpty { try await writer.write(ByteBuffer(string: chunk)) }
                guard let next = page.next else { break }
                page = try await store.search(tenant: tenant, filter: filter, limit: maxLimit, cursor: next)
            }
            try await writer.finish(nil)
        }
        let contentType = format == "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson"
        return Response(
            status: .ok,
            headers: [.contentType: contentType, .contentDisposition: "attachment; filename=\"audit-\(tenant.id).\(format)\""], body: body)
    }

    /// `GET /api/v1/audit/verify`.
    static func verify(_ request: Request, context: SightlineRequestContext, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let store = try store(api)
        let parameters = try await PrometheusAPIParameters.read(request)
        var fromSeq: UInt64?
        var fromTime: Int64?
        let from = parameters["from"]
        if !from.isEmpty {
            if let seq = UInt64(from), seq > 0 {
                fromSeq = seq
            } else if let ms = PrometheusAPITime.parse(from) {
                fromTime = nanoseconds(ms)
            } else {
                throw SightlineError(.invalidArgument, "from \"\(from)\" is neither an event seq nor an RFC 3339 time")
            }
        }
        let result = try await store.verify(tenant: identity.tenant, fromSeq: fromSeq, fromTimeNano: fromTime)
        var body = "{\"ok\":\(result.isIntact),\"tenant\":" + JSONText.quoted(identity.tenant.id)
        body += ",\"events_checked\":\(result.eventsChecked),\"digests_checked\":\(result.digestsChecked),\"last_seq\":\(result.lastSeq)"
        body += ",\"first_broken\":"
        if let broken = result.firstBroken {
            body += "{\"seq\":\(broken.seq),\"id\":" + (broken.id.map(JSONText.quoted) ?? "null") + ",\"reason\":" + JSONText.quoted(broken.reason)
            if let chain = broken.chain { body += ",\"chain\":" + JSONText.quoted(chain) }
            body += "}"
        } else {
            body += "null"
        }
        body += "}"
        try await record("audit.verify", identity: identity, request: request, context: context, api: api,
            attributes: [("result", result.isIntact ? "intact" : "broken")])
        return json(body)
    }

    /// `GET /api/v1/audit/digests`.
    static func digests(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let store = try store(api)
        var body = "{\"public_key\":" + JSONText.quoted(store.publicKeyPEM) + ",\"digests\":["
        for (index, digest) in try await store.digests(tenant: identity.tenant).enumerated() {
            if index > 0 { body += "," }
            body += "{\"seq\":\(digest.seq),\"hash\":\"\(Hex.encode(digest.hash))\",\"created\":"
                + JSONText.quoted(CivilTime.rfc3339(nanoseconds: digest.createdNano, trimZeros: true))
                + ",\"previous_digest_hash\":\"\(Hex.encode(digest.previousDigestHash))\""
                + ",\"payload\":\"\(Base64.encode(digest.payload))\",\"signature\":\"\(Base64.encode(digest.signature))\""
            // On ClickHouse each writing server has its chain and its key: name both so every digest can be checked.
            if let chain = digest.chain { body += ",\"chain\":" + JSONText.quoted(chain) }
            if let key = digest.publicKey { body += ",\"public_key\":" + JSONText.quoted(AuditSigner.pem(publicKey: key)) }
            body += "}"
        }
        return json(body + "]}")
    }

    /// `POST /api/v1/audit/holds` with `{"from": RFC 3339, "to": RFC 3339, "reason": "…"}`.
    static func placeHold(_ request: Request, context: SightlineRequestContext, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .admin)
        let store = try store(api)
        var request = request
        let body = try await OTLPHTTPHandler.collectBody(&request, limit: 1 << 16)
        guard let object = try JSONParser.parse(Array(buffer: body)).objectValue else {
            throw SightlineError(.invalidArgument, "a hold is a JSON object with from, to and reason")
        }
        func time(_ key: String) throws -> Int64 {
            guard let text = object[key]?.stringValue, let nano = ISO8601Time.nanoseconds(text.utf8), nano <= UInt64(Int64.max) else {
                throw SightlineError(.invalidArgument, "hold.\(key): required, an RFC 3339 time")
            }
            return Int64(nano)
        }
        let from = try time("from")
        let to = try time("to")
        guard from <= to else { throw SightlineError(.invalidArgument, "hold: from is after to") }
        guard let reason = object["reason"]?.stringValue, !reason.isEmpty else {
            throw SightlineError(.invalidArgument, "hold.reason: required, a non-empty string")
        }
        let hold = AuditHold(id: "hold-" + randomID(), fromNano: from, toNano: to, reason: reason, createdNano: nowNano())
        try await store.addHold(hold, tenant: identity.tenant)
        try await record("audit.hold.place", identity: identity, request: request, context: context, api: api, attributes: [("hold", hold.id), ("reason", reason)])
        return json(holdJSON(hold))
    }

    // MARK: - Helpers

    /// Records that `identity` did `action` on its tenant's audit log.
    private static func record(
        _ action: String, identity: Identity, request: Request, context: SightlineRequestContext, api: APIDependencies,
        attributes: [(key: String, value: String)]
    ) async throws {
        let event = AuditEvent(
            id: "sightline-" + randomID(), timeNano: nowNano(),
            actor: .init(id: identity.subject, type: identity.subject == "anonymous" ? "anonymous" : "api-token"), action: action,
            resource: .init(type: "audit-log", id: identity.tenant.id), outcome: .success,
            requestID: requestIDHeader.flatMap { request.headers[$0] }, clientAddress: context.remoteAddress,
            userAgent: request.headers[.userAgent], attributes: attributes)
        let result = try await store(api).append([event], tenant: identity.tenant, now: event.timeNano)
        api.metrics.auditEvents(accepted: result.accepted, duplicates: result.duplicates)
    }

    private static func queryAttributes(_ request: Request) -> [(key: String, value: String)] {
        guard let query = request.uri.query, !query.isEmpty else { return [] }
        return [("query", String(query.prefix(1024)))]
    }

    private static func filter(_ parameters: PrometheusAPIParameters) throws -> AuditFilter {
        var filter = AuditFilter()
        func value(_ name: String) -> String? { parameters[name].isEmpty ? nil : parameters[name] }
        filter.actorID = value("actor")
        filter.actorType = value("actor_type")
        filter.action = value("action")
        filter.resourceType = value("resource_type")
        filter.resourceID = value("resource_id")
        filter.text = value("q")
        if let outcome = value("outcome") {
            guard let parsed = AuditEvent.Outcome(rawValue: outcome) else {
                throw SightlineError(.invalidArgument, "outcome \"\(outcome)\" is not one of success, failure, denied")
            }
            filter.outcome = parsed
        }
        for (name, isStart) in [("start", true), ("end", false)] {
            guard let text = value(name) else { continue }
            guard let ms = PrometheusAPITime.parse(text) else {
                throw SightlineError(.invalidArgument, "\(name) \"\(text)\" is neither RFC 3339 nor Unix seconds")
            }
            if isStart { filter.fromNano = nanoseconds(ms) } else { filter.toNano = nanoseconds(ms) }
        }
        return filter
    }

    /// One event as JSON: the wire shape AuditKit sends, plus `tenant`, `seq`, `hash` and `received`.
    static func appendJSON(_ stored: StoredAuditEvent, to out: inout String) {
        let event = stored.event
        func optional(_ key: String, _ value: String?) {
            guard let value else { return }
            out += ",\"\(key)\":"
            JSONText.appendString(value, to: &out)
        }
        out += "{\"seq\":\(stored.seq),\"id\":"
        JSONText.appendString(event.id, to: &out)
        if let chain = stored.chain {
            out += ",\"chain\":"
            JSONText.appendString(chain, to: &out)
        }
        out += ",\"tenant\":"
        JSONText.appendString(stored.tenant.id, to: &out)
        out += ",\"time\":\"" + CivilTime.rfc3339(nanoseconds: event.timeNano, trimZeros: true) + "\""
        out += ",\"received\":\"" + CivilTime.rfc3339(nanoseconds: stored.receivedNano, trimZeros: true) + "\""
        out += ",\"actor\":{\"id\":"
        JSONText.appendString(event.actor.id, to: &out)
        optional("type", event.actor.type)
        optional("display", event.actor.display)
        out += "},\"action\":"
        JSONText.appendString(event.action, to: &out)
        out += ",\"resource\":{\"type\":"
        JSONText.appendString(event.resource.type, to: &out)
        optional("id", event.resource.id)
        out += "},\"outcome\":\"" + event.outcome.rawValue + "\""
        optional("request_id", event.requestID)
        optional("client_address", event.clientAddress)
        optional("user_agent", event.userAgent)
        optional("reason", event.reason)
        // before/after were parsed as JSON and written back compactly by the decoder, so they embed as they are.
        if let before = event.before { out += ",\"before\":" + before }
        if let after = event.after { out += ",\"after\":" + after }
        if !event.attributes.isEmpty { out += ",\"attributes\":" + attributesJSON(event.attributes) }
        out += ",\"hash\":\"" + Hex.encode(stored.hash) + "\"}"
    }

    /// Attributes as a JSON object of strings.
    static func attributesJSON(_ attributes: [(key: String, value: String)]) -> String {
        var out = "{"
        for (index, attribute) in attributes.enumerated() {
            if index > 0 { out += "," }
            JSONText.appendString(attribute.key, to: &out)
            out += ":"
            JSONText.appendString(attribute.value, to: &out)
        }
        return out + "}"
    }

    private static func holdJSON(_ hold: AuditHold) -> String {
        "{\"id\":" + JSONText.quoted(hold.id) + ",\"from\":\"" + CivilTime.rfc3339(nanoseconds: hold.fromNano, trimZeros: true)
            + "\",\"to\":\"" + CivilTime.rfc3339(nanoseconds: hold.toNano, trimZeros: true) + "\",\"reason\":" + JSONText.quoted(hold.reason)
            + ",\"created\":\"" + CivilTime.rfc3339(nanoseconds: hold.createdNano, trimZeros: true) + "\"}"
    }

    private static func json(_ body: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    private static func nowNano() -> Int64 { AuditStore.wallClockNano() }

    /// Milliseconds as nanoseconds, clamped to Int64 (the API's times may be far outside the years an Int64 of ns holds).
    private static func nanoseconds(_ ms: Int64) -> Int64 {
        let (nano, overflow) = ms.multipliedReportingOverflow(by: 1_000_000)
        return overflow ? (ms < 0 ? .min : .max) : nano
    }

    /// 16 random bytes as hex: ids for the events and holds the server itself creates.
    private static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}

/// CSV (RFC 4180) rows of audit events, for spreadsheets and auditors.
enum AuditCSV {
    static let header =
        "seq,time,received,id,actor_id,actor_type,actor_display,action,resource_type,resource_id,outcome,request_id,client_address,user_agent,reason,before,after,attributes,hash\r\n"

    static func append(_ stored: StoredAuditEvent, to out: inout String) {
        let event = stored.event
        let attributes = event.attributes.isEmpty ? "" : AuditAPI.attributesJSON(event.attributes)
        let fields: [String] = [
            String(stored.seq), CivilTime.rfc3339(nanoseconds: event.timeNano, trimZeros: true),
            CivilTime.rfc3339(nanoseconds: stored.receivedNano, trimZeros: true), event.id, event.actor.id, event.actor.type ?? "",
            event.actor.display ?? "", event.action, event.resource.type, event.resource.id ?? "", event.outcome.rawValue, event.requestID ?? "",
            event.clientAddress ?? "", event.userAgent ?? "", event.reason ?? "", event.before ?? "", event.after ?? "", attributes,
            Hex.encode(stored.hash),
        ]
        out += fields.map(quote).joined(separator: ",") + "\r\n"
    }

    /// A field quoted when it holds a comma, quote or line break; quotes doubled.
    static func quote(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        var quoted = "\""
        for character in field {
            quoted.append(character)
            if character == "\"" { quoted.append("\"") }
        }
        return quoted + "\""
    }
}
