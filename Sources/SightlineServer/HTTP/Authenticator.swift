import Crypto
package import SightlineCore

/// Who is calling: the tenant whose data they touch and what they may do.
package struct Identity: Sendable, Hashable {
    package var tenant: Tenant
    package var roles: Set<Role>
    /// Names the caller in audit records without revealing the token: `token:` and the first 12 hex digits of the
    /// token's SHA-256, or `anonymous` when no tokens are configured.
    package var subject: String

    package init(tenant: Tenant, roles: Set<Role>, subject: String = "anonymous") {
        self.tenant = tenant
        self.roles = roles
        self.subject = subject
    }
}

/// Turns an `Authorization` header into an ``Identity``, for HTTP and gRPC alike.
///
/// With no tokens configured every caller is the tenant `default` with every role. With tokens, a caller must send
/// `Authorization: Bearer <token>` and gets the tenant and roles of that token. Shippers that only know basic
/// authentication (Promtail, Filebeat, Logstash, Prometheus' `basic_auth`) may send the token as the password of
/// `Authorization: Basic …`; the user name is ignored. InfluxDB 2.x clients send it as `Authorization: Token …`.
package struct Authenticator: Sendable {
    private let grants: [String: (grant: TokenGrant, subject: String)]

    package init(tokens: [TokenGrant]) {
        grants = Dictionary(
            tokens.map { ($0.token, ($0, "token:" + Hex.encode(SHA256.hash(data: Array($0.token.utf8)).prefix(6)))) },
            uniquingKeysWith: { first, _ in first })
    }

    /// Whether tokens are configured.
    package var isEnabled: Bool { !grants.isEmpty }

    /// The caller's identity, checked for `role`.
    /// - Parameters:
    ///   - authorization: the `Authorization` header, if any.
    ///   - role: what the operation needs.
    /// - Throws: `unauthenticated` when the header is missing, malformed or names an unknown token;
    ///   `permissionDenied` when the token lacks `role`.
    package func identify(authorization: String?, requiring role: Role) throws -> Identity {
        guard isEnabled else { return Identity(tenant: .default, roles: Set(Role.allCases)) }
        guard let authorization, !authorization.isEmpty else {
            throw SightlineError(.unauthenticated, "missing Authorization header: send 'Authorization: Bearer <token>'")
        }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, let token = Self.token(scheme: parts[0].lowercased(), credentials: String(parts[1]).trimmingSpaces) else {
            throw SightlineError(
                .unauthenticated, "the Authorization header must be 'Bearer <token>', 'Basic <user:token in base64>' or 'ApiKey <id:token in base64>'")
        }
        guard let (grant, subject) = grants[token] else {
            throw SightlineError(.unauthenticated, "unknown bearer token")
        }
        guard grant.roles.contains(role) else {
            throw SightlineError(.permissionDenied, "the token of tenant \(grant.tenant) lacks the \(role.rawValue) role")
        }
        return Identity(tenant: grant.tenant, roles: grant.roles, subject: subject)
    }
}

extension Authenticator {
    /// The token in credentials of the `Bearer` (or InfluxDB's `Token`), `Basic` (the password) or Elasticsearch's `ApiKey` scheme (the key of
    /// `base64(id:key)`, as Filebeat, Logstash and the Elasticsearch clients send an API key); nil for other schemes or
    /// malformed credentials.
    fileprivate static func token(scheme: String, credentials: String) -> String? {
        switch scheme {
        case "bearer", "token":
            return credentials
        case "basic", "apikey":
            guard let decoded = Base64.decode(credentials), let text = String(validating: decoded, as: UTF8.self),
                let colon = text.firstIndex(of: ":")
            else { return nil }
            return String(text[text.index(after: colon)...])
        default:
            return nil
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
