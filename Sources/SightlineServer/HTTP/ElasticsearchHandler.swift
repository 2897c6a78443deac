import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SightlineCore
import SightlineIngest

/// The part of the Elasticsearch API that log shippers need: `_bulk` ingestion plus the probes Filebeat, Logstash,
/// Vector and the Elasticsearch clients make before they send.
///
/// - `POST`/`PUT` `/_bulk` and `/{index}/_bulk`: NDJSON bulk bodies (gzip allowed), decoded by
///   ``ElasticsearchBulkDecoder`` and stored as logs with the stream label `index`. The answer is shaped like
///   Elasticsearch's: `{"took":…,"errors":…,"items":[…]}` with status 200 even when some items were refused.
/// - `GET /` (cluster info, version 8.11.0) and `GET /_license` (basic, active), `GET /_cluster/health` (green).
/// - `GET`/`HEAD`/`PUT`/`POST` of `/_index_template/{name}`, `/_template/{name}`, `/_ilm/policy/{name}`,
///   `/_data_stream/{name}`, and `HEAD`/`PUT` of `/{index}`: accepted and ignored (200, `{}` or
///   `{"acknowledged":true}`), so shippers that install templates, policies and data streams proceed. Sightline
///   has no mappings: every field is kept as an attribute.
///
/// Every answer carries `X-Elastic-Product: Elasticsearch`, which the official clients require. Every route needs
/// the `ingest` role; the tenant is the token's. Errors use Elasticsearch's shape:
/// `{"error":{"root_cause":[…],"type":"…","reason":"…"},"status":400}`.
enum ElasticsearchHandler {
    /// The protocol name in ingestion metrics.
    static let protocolName = "elasticsearch_bulk"
    /// The Elasticsearch version Sightline claims to be; 8.x clients refuse older ones.
    static let version = "8.11.0"

    /// Registers the bulk and probe routes but `GET /`, which ``HTTPAPI`` shares with the web UI (``clusterProbe(_:api:)``).
    static func addRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies) {
        router.head("/") { request, _ in respond(request, api: api) { _ in emptyResponse() } }
        router.get("/_license") { request, _ in respond(request, api: api) { _ in json(license) } }
        router.get("/_cluster/health") { request, _ in respond(request, api: api) { _ in json(health) } }
        router.post("/_bulk") { request, _ in await bulk(request, index: nil, api: api) }
        router.put("/_bulk") { request, _ in await bulk(request, index: nil, api: api) }
        router.post("/:index/_bulk") { request, context in await bulk(request, index: context.parameters.get("index"), api: api) }
        router.put("/:index/_bulk") { request, context in await bulk(request, index: context.parameters.get("index"), api: api) }
        for prefix in ["/_index_template", "/_template", "/_ilm/policy", "/_data_stream"] {
            let path = RouterPath(prefix + "/:name")
            router.get(path) { request, _ in respond(request, api: api) { _ in json("{}") } }
            router.head(path) { request, _ in respond(request, api: api) { _ in emptyResponse() } }
            router.put(path) { request, _ in respond(request, api: api) { _ in json(acknowledged) } }
            router.post(path) { request, _ in respond(request, api: api) { _ in json(acknowledged) } }
        }
        router.head("/:index") { request, _ in respond(request, api: api) { _ in emptyResponse() } }
        router.put("/:index") { request, context in
            respond(request, api: api) { _ in
                json("{\"acknowledged\":true,\"shards_acknowledged\":true,\"index\":\(JSONText.quoted(context.parameters.get("index") ?? ""))}")
            }
        }
    }

    // MARK: - Bulk

    /// Handles one bulk request.
    static func bulk(_ request: Request, index: String?, api: APIDependencies) async -> Response {
        let started = ContinuousClock.now
        do {
            let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .ingest)
            var request = request
            let body = try await OTLPHTTPHandler.collectBody(&request, limit: api.limits.maxBodyBytes)
            let bytes = try OTLPHTTPHandler.decompress(body, encoding: request.headers[.contentEncoding], limit: api.limits.maxBodyBytes)
            var decoded = try ElasticsearchBulkDecoder.decode(bytes, defaultIndex: index)
            guard !decoded.items.isEmpty else {
                throw SightlineError(.invalidArgument, "Validation Failed: 1: no requests added;")
            }
            refuseOverLimits(&decoded, limits: api.limits)
            let now = LokiPushHandler.arrivalTime()
            var batch = LokiPushHandler.stamped(
                DecodedBatch(.logs(decoded.records), rejected: decoded.rejectedCount, rejectionMessage: decoded.rejectionMessage),
                observedTimeUnixNano: now
            )
            batch.request = ReceivedRequest(
                format: .elasticsearchBulk, body: bytes, observedTimeUnixNano: now, recordCount: decoded.records.count, context: index ?? "")
            let outcome = try await api.pipeline.ingest(batch, tenant: identity.tenant, protocol: protocolName, bytes: body.readableBytes)
            // The pipeline may still refuse records (store admission) without saying which: report it as errors.
            let unattributed = outcome.rejected > decoded.rejectedCount
            let took = started.duration(to: .now).components
            let tookMs = took.seconds * 1000 + took.attoseconds / 1_000_000_000_000_000
            return json(bulkResponse(decoded.items, took: tookMs, forceErrors: unattributed))
        } catch {
            return errorResponse(error, api: api)
        }
    }

    /// Refuses, per item, the records the ingestion limits would drop, so that the response can say which.
    private static func refuseOverLimits(_ request: inout ElasticsearchBulkRequest, limits: IngestLimits) {
        let validator = BatchValidator(limits: limits)
        var dropped: [Int] = []
        var row = 0
        for itemIndex in request.items.indices where !request.items[itemIndex].isError {
            guard row < request.records.count else { break }
            if let (_, message) = validator.dropReason(for: request.records.rows[row]) {
                request.items[itemIndex].status = 400
                request.items[itemIndex].errorType = "illegal_argument_exception"
                request.items[itemIndex].errorReason = message
                dropped.append(row)
            }
            row += 1
        }
        guard !dropped.isEmpty else { return }
        // Most requests break no limit; one that does is copied without the dropped rows.
        var kept = LogBatch()
        var start = 0
        for end in dropped + [request.records.count] {
            kept.append(contentsOf: request.records, rows: start..<end)
            start = end + 1
        }
        request.records = kept
    }

    /// `{"took":…,"errors":…,"items":[…]}`, as bytes: the response names every document of the request, and
    /// appending each piece to a `String` was a ninth of a `_bulk` request's CPU.
    static func bulkResponse(_ items: [ElasticsearchBulkItem], took: Int64, forceErrors: Bool = false) -> [UInt8] {
        let errors = forceErrors || items.contains { $0.isError }
        var out: [UInt8] = []
        out.reserveCapacity(64 + items.count * 192)
        func append(_ text: StaticString) { text.withUTF8Buffer { out.append(contentsOf: $0) } }
        func append(_ text: String) { out.append(contentsOf: text.utf8) }
        func appendQuoted(_ text: String) {
            var quoted = ""
            JSONText.appendString(text, to: &quoted)
            append(quoted)
        }
        append("{\"took\":")
        append(String(took))
        append(errors ? ",\"errors\":true,\"items\":[" : ",\"errors\":false,\"items\":[")
        var sequence = 0
        var ids = DocumentIDs()
        // `{"<action>":{"_index":"<index>"` of the previous item: a request mostly repeats one action and index.
        var opening: (action: String, index: String, bytes: [UInt8]) = ("", "", [])
        for (position, item) in items.enumerated() {
            if position > 0 { append(",") }
            if opening.bytes.isEmpty || opening.action != item.action || opening.index != item.index {
                var text = "{"
                JSONText.appendString(item.action, to: &text)
                text += ":{\"_index\":"
                JSONText.appendString(item.index, to: &text)
                opening = (item.action, item.index, Array(text.utf8))
            }
            out.append(contentsOf: opening.bytes)
            if let type = item.errorType {
                if let id = item.id {
                    append(",\"_id\":")
                    appendQuoted(id)
                }
                append(",\"status\":")
                append(String(item.status))
                append(",\"error\":{\"type\":")
                appendQuoted(type)
                append(",\"reason\":")
                appendQuoted(item.errorReason ?? "")
                append("}}}")
            } else {
                append(",\"_id\":")
                if let id = item.id {
                    appendQuoted(id)
                } else {
                    append("\"")
                    ids.append(to: &out)
                    append("\"")
                }
                append(",\"_version\":1,\"result\":\"created\",\"_shards\":{\"total\":1,\"successful\":1,\"failed\":0},\"_seq_no\":")
                append(String(sequence))
                append(",\"_primary_term\":1,\"status\":")
                append(String(item.status))
                append("}}")
                sequence += 1
            }
        }
        append("]}")
        return out
    }

    /// Ids for the documents of one bulk response that named none: 20 URL-safe base64 characters, like the ones
    /// Elasticsearch makes up. 96 random bits drawn once per response, then the document's place: ids differ within
    /// a response, and across responses but by a 2⁻⁹⁶ chance. (Drawing 20 random characters per document, one system
    /// call each, had cost more than storing the documents.)
    struct DocumentIDs {
        private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        private let random: (UInt64, UInt32)
        private var position: UInt32 = 0

        init() {
            var generator = SystemRandomNumberGenerator()
            random = (generator.next(), UInt32(truncatingIfNeeded: generator.next()))
        }

        /// Appends the next id's 20 characters to `out`: the 15 bytes (the random ones, then the place's low three)
        /// in groups of three, four characters each.
        mutating func append(to out: inout [UInt8]) {
            let bytes = (random.0.littleEndian, (UInt64(random.1) | UInt64(position & 0xFF_FFFF) << 32).littleEndian)
            position &+= 1
            withUnsafeBytes(of: bytes) { raw in
                for group in stride(from: 0, to: 15, by: 3) {
                    let bits = Int(raw[group]) << 16 | Int(raw[group + 1]) << 8 | Int(raw[group + 2])
                    out.append(Self.alphabet[bits >> 18 & 63])
                    out.append(Self.alphabet[bits >> 12 & 63])
                    out.append(Self.alphabet[bits >> 6 & 63])
                    out.append(Self.alphabet[bits & 63])
                }
            }
        }
    }

    // MARK: - Probes

    private static let license = """
        {"license":{"status":"active","uid":"00000000-0000-0000-0000-000000000000","type":"basic",\
        "issue_date":"2024-01-01T00:00:00.000Z","issue_date_in_millis":1704067200000,"max_nodes":1000,\
        "max_resource_units":null,"issued_to":"sightline","issuer":"elasticsearch","start_date_in_millis":-1}}
        """
    private static let health = """
        {"cluster_name":"sightline","status":"green","timed_out":false,"number_of_nodes":1,"number_of_data_nodes":1,\
        "active_primary_shards":0,"active_shards":0,"relocating_shards":0,"initializing_shards":0,"unassigned_shards":0}
        """
    /// `X-Elastic-Product`, which the 8.x clients check on every response.
    static let productHeader = HTTPField.Name("X-Elastic-Product")
    private static let acknowledged = "{\"acknowledged\":true}"

    private static func clusterInfo() throws -> Response {
        json("""
            {"name":"sightline","cluster_name":"sightline","cluster_uuid":"c2lnaHRsaW5lLWNsdXN0ZXI",\
            "version":{"number":"\(version)","build_flavor":"default","build_type":"docker",\
            "build_hash":"0000000000000000000000000000000000000000","build_date":"2023-11-04T10:04:57.184859352Z",\
            "build_snapshot":false,"lucene_version":"9.8.0","minimum_wire_compatibility_version":"7.17.0",\
            "minimum_index_compatibility_version":"7.0.0"},"tagline":"You Know, for Search"}
            """)
    }

    // MARK: - Responses

    /// Authenticates, then answers with `body`; errors become Elasticsearch error responses.
    /// `GET /`: the cluster information the clients check before their first bulk request.
    static func clusterProbe(_ request: Request, api: APIDependencies) -> Response {
        respond(request, api: api) { _ in try clusterInfo() }
    }

    private static func respond(_ request: Request, api: APIDependencies, _ body: (Identity) throws -> Response) -> Response {
        do {
            let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .ingest)
            return try body(identity)
        } catch {
            return errorResponse(error, api: api)
        }
    }

    private static func headers(contentType: String? = "application/json") -> HTTPFields {
        var fields: HTTPFields = [:]
        if let contentType { fields[.contentType] = contentType }
        if let productHeader { fields[productHeader] = "Elasticsearch" }
        return fields
    }

    private static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: headers(), body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    private static func json(_ bytes: [UInt8]) -> Response {
        Response(status: .ok, headers: headers(), body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    private static func emptyResponse() -> Response {
        Response(status: .ok, headers: headers(contentType: "application/json"))
    }

    /// `{"error":{"root_cause":[{"type":…,"reason":…}],"type":…,"reason":…},"status":…}`.
    static func errorResponse(_ error: any Error, api: APIDependencies) -> Response {
        let failure = error as? SightlineError ?? SightlineError(.internal, "\(error)")
        api.metrics.refusedRequest(protocol: protocolName, status: "\(failure.status.code)")
        let type: String
        switch failure.code {
        case .unauthenticated, .permissionDenied: type = "security_exception"
        case .invalidArgument, .unsupportedMediaType: type = "illegal_argument_exception"
        case .tooLarge: type = "content_too_long_exception"
        case .unavailable: type = "unavailable_shards_exception"
        default: type = "exception"
        }
        var cause = "{\"type\":"
        JSONText.appendString(type, to: &cause)
        cause += ",\"reason\":"
        JSONText.appendString(failure.message, to: &cause)
        let text = "{\"error\":{\"root_cause\":[\(cause)}],\(cause.dropFirst())},\"status\":\(failure.status.code)}"
        var response = json(text, status: failure.status)
        if failure.code == .unauthenticated { response.headers[.wwwAuthenticate] = "Bearer" }
        if failure.code == .unavailable { response.headers[.retryAfter] = "1" }
        return response
    }
}
