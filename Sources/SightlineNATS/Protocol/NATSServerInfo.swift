#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SightlineCore

/// What the server announced in its `INFO` line, as far as this client uses it.
package struct NATSServerInfo: Sendable, Decodable {
    /// The server's unique id.
    package var serverID: String
    /// The server's name (defaults to its id).
    package var serverName: String?
    /// The server version, e.g. "2.9.10".
    package var version: String
    /// The largest message (header block plus payload) the server accepts, in bytes.
    package var maxPayload: Int
    /// Whether the server understands `HPUB`/`HMSG`.
    package var headers: Bool
    /// Whether JetStream is enabled.
    package var jetStream: Bool
    /// Whether the server demands TLS (which this client does not speak).
    package var tlsRequired: Bool
    /// Whether the server demands credentials.
    package var authRequired: Bool

    private enum CodingKeys: String, CodingKey {
        case serverID = "server_id", serverName = "server_name", version, maxPayload = "max_payload", headers
        case jetStream = "jetstream", tlsRequired = "tls_required", authRequired = "auth_required"
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        serverID = try c.decodeIfPresent(String.self, forKey: .serverID) ?? ""
        serverName = try c.decodeIfPresent(String.self, forKey: .serverName)
        version = try c.decodeIfPresent(String.self, forKey: .version) ?? ""
        maxPayload = try c.decodeIfPresent(Int.self, forKey: .maxPayload) ?? 1024 * 1024
        headers = try c.decodeIfPresent(Bool.self, forKey: .headers) ?? false
        jetStream = try c.decodeIfPresent(Bool.self, forKey: .jetStream) ?? false
        tlsRequired = try c.decodeIfPresent(Bool.self, forKey: .tlsRequired) ?? false
        authRequired = try c.decodeIfPresent(Bool.self, forKey: .authRequired) ?? false
    }

    /// Parses the JSON of an `INFO` line.
    /// - Throws: ``SightlineError`` (`.invalidArgument`) naming the JSON problem.
    package static func parse(_ json: String) throws -> NATSServerInfo {
        try NATSJSON.decode(NATSServerInfo.self, from: Array(json.utf8), what: "NATS INFO")
    }
}

/// JSON decoding for the few documents NATS sends (INFO, JetStream API responses).
enum NATSJSON {
    /// Decodes `bytes` as `type`, turning decoding errors into a ``SightlineError`` that names `what`.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            let preview = String(decoding: bytes.prefix(200), as: UTF8.self)
            throw SightlineError(.invalidArgument, "\(what) is not the JSON expected: \(JSONText.quoted(preview))", cause: error)
        }
    }
}
