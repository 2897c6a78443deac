import ArgumentParser
import Foundation
import SightlineCore
import SightlineScrape

/// What every client command shares: the server's address from `--server`, the token, and GET requests that answer
/// JSON, with the server's error (Prometheus' `{"status":"error",…}` or Loki's plain text) turned into a message.
struct ServerClient {
    let address: ScrapeAddress
    let basePath: String
    let server: String
    let token: String?
    let userAgent: String

    /// Reads `--server`; `token` falls back to the SIGHTLINE_TOKEN environment variable.
    /// - Throws: `ValidationError` naming the flag when the URL is not a plain http:// URL with a host.
    init(server: String, token: String?, userAgent: String) throws {
        guard server.hasPrefix("http://") else {
            throw ValidationError("--server: expected an http:// URL such as http://127.0.0.1:7600 (https is not supported)")
        }
        let rest = server.dropFirst("http://".count)
        let hostPart = rest.prefix(while: { $0 != "/" })
        var basePath = String(rest.dropFirst(hostPart.count))
        while basePath.hasSuffix("/") { basePath.removeLast() }
        guard let address = ScrapeAddress(String(hostPart), defaultPort: 80) else {
            throw ValidationError("--server: cannot read host and port from \"\(server)\"")
        }
        self.address = address
        self.basePath = basePath
        self.server = server
        self.token = token ?? ProcessInfo.processInfo.environment["SIGHTLINE_TOKEN"]
        self.userAgent = userAgent
    }

    /// The answer of a GET: the status, the raw body and the body as a JSON object when it is one.
    struct Answer {
        var status: Int
        var body: [UInt8]
        var object: [String: Any]?
        /// The body as JSON of any shape (Alertmanager answers arrays and strings too).
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) }

        /// The server's reason for an error answer.
        var errorMessage: String {
            if let object {
                let message = object["error"] as? String ?? object["message"] as? String ?? "HTTP \(status)"
                return (object["errorType"] as? String).map { "\($0): \(message)" } ?? message
            }
            let text = String(decoding: body.prefix(500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return text.isEmpty ? "HTTP \(status)" : "HTTP \(status): \(text)"
        }
    }

    /// GETs `path` with the form-encoded `parameters`.
    /// - Throws: a `SightlineError` description prefixed with the server when the request fails on the way.
    func get(_ path: String, _ parameters: [(String, String)]) async throws -> Answer {
        var headers: [(String, String)] = [("Accept", "application/json")]
        if let token, !token.isEmpty { headers.append(("Authorization", "Bearer \(token)")) }
        let query = parameters.isEmpty ? "" : "?" + Self.encodeForm(parameters)
        do {
            let response = try await HTTPFetcher(userAgent: userAgent).get(
                address, pathAndQuery: basePath + path + query, headers: headers, timeout: .seconds(150), maxBodySize: 512 << 20)
            let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
            return Answer(status: response.status, body: response.body, object: object)
        } catch let error as SightlineError {
            throw SightlineError(error.code, "\(server): \(error.message)")
        }
    }

    /// Sends `method` to `path` with a JSON `body` (POST, DELETE), as ``get(_:_:)`` does.
    func send(_ method: String, _ path: String, body: [UInt8] = []) async throws -> Answer {
        var headers: [(String, String)] = [("Accept", "application/json")]
        if !body.isEmpty { headers.append(("Content-Type", "application/json")) }
        if let token, !token.isEmpty { headers.append(("Authorization", "Bearer \(token)")) }
        do {
            let response = try await HTTPFetcher(userAgent: userAgent).send(
                address, method: method, pathAndQuery: basePath + path, headers: headers, body: body, timeout: .seconds(30),
                maxBodySize: 64 << 20)
            let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
            return Answer(status: response.status, body: response.body, object: object)
        } catch let error as SightlineError {
            throw SightlineError(error.code, "\(server): \(error.message)")
        }
    }

    /// `a=1&b=x%20y`: form encoding where everything but unreserved characters is escaped.
    static func encodeForm(_ pairs: [(String, String)]) -> String { PercentEncoding.form(pairs) }

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Prints `sightline <command>: <message>`; the error to throw to exit 1.
    static func failure(_ command: String, _ message: String) -> ExitCode {
        printError("sightline \(command): \(message)")
        return ExitCode(1)
    }
}
