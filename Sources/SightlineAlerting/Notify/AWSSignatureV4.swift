import Foundation
import SightlineCore
import SightlineQuery

/// AWS Signature Version 4 for one request (what Alertmanager's SNS receiver gets from the AWS SDK): the canonical
/// request over the method, path, query, the signed headers and the body's SHA-256, a string to sign scoped to the
/// day, region and service, and its HMAC-SHA256 under a key derived from the secret through that scope.
package enum AWSSignatureV4 {
    /// Static credentials; `sessionToken` is sent as `X-Amz-Security-Token` when set.
    package struct Credentials: Sendable, Equatable {
        package var accessKey: String
        package var secretKey: String
        package var sessionToken = ""

        package init(accessKey: String, secretKey: String, sessionToken: String = "") {
            self.accessKey = accessKey
            self.secretKey = secretKey
            self.sessionToken = sessionToken
        }
    }

    /// The headers to add to a request of `headers` (which must hold `host`, and whichever others are to be signed)
    /// so that AWS accepts it: `X-Amz-Date`, `X-Amz-Security-Token` when there is one, and `Authorization`.
    /// - Parameters:
    ///   - path: The URL's path, already percent-encoded as it is sent; `query` the query string without `?`.
    ///   - nowMs: The signing time, ms since the epoch.
    package static func headers(
        method: String, path: String, query: String, headers: [(String, String)], body: [UInt8], credentials: Credentials,
        region: String, service: String, nowMs: Int64
    ) -> [(String, String)] {
        let amzDate = timestamp(nowMs)
        var signed = headers.map { ($0.0.lowercased(), $0.1.trimmingCharacters(in: .whitespaces)) }
        signed.append(("x-amz-date", amzDate))
        var added = [("X-Amz-Date", amzDate)]
        if !credentials.sessionToken.isEmpty {
            signed.append(("x-amz-security-token", credentials.sessionToken))
            added.append(("X-Amz-Security-Token", credentials.sessionToken))
        }
        signed.sort { $0.0 < $1.0 }
        let signedNames = signed.map(\.0).joined(separator: ";")
        let canonicalQuery = query.split(separator: "&").map(String.init).sorted().joined(separator: "&")
        let canonicalRequest = [
            method, path.isEmpty ? "/" : path, canonicalQuery, signed.map { "\($0.0):\($0.1)\n" }.joined(), signedNames,
            Hex.encode(SHA256.digest(body)),
        ].joined(separator: "\n")
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Hex.encode(SHA256.digest(Array(canonicalRequest.utf8)))].joined(separator: "\n")
        var key = Array("AWS4\(credentials.secretKey)".utf8)
        for part in [day, region, service, "aws4_request"] { key = hmac(key: key, Array(part.utf8)) }
        let signature = Hex.encode(hmac(key: key, Array(stringToSign.utf8)))
        added.append(
            ("Authorization", "AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope), SignedHeaders=\(signedNames), Signature=\(signature)"))
        return added
    }

    /// `YYYYMMDD'T'HHMMSS'Z'`, UTC.
    static func timestamp(_ ms: Int64) -> String { GoTime.format(ms * 1_000_000, layout: "20060102T150405Z0700") }

    /// HMAC-SHA256 (RFC 2104) over ``SHA256``.
    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var block = key.count > 64 ? SHA256.digest(key) : key
        block += [UInt8](repeating: 0, count: 64 - block.count)
        let inner = SHA256.digest(block.map { $0 ^ 0x36 } + message)
        return SHA256.digest(block.map { $0 ^ 0x5C } + inner)
    }
}
