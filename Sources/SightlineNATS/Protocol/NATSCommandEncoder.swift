package import NIOCore
import SightlineCore

/// Writes the commands a client sends (`CONNECT`, `PUB`, `HPUB`, `SUB`, `UNSUB`, `PING`, `PONG`) into a `ByteBuffer`.
///
/// Subjects are checked before anything is written, so a bad subject is a clear error instead of a protocol
/// violation that makes the server close the connection.
package enum NATSCommandEncoder {
    /// Throws unless `subject` is a non-empty token sequence without whitespace or control characters.
    /// - Parameters:
    ///   - subject: The subject (or queue group) to check.
    ///   - what: What it is, for the error message ("subject", "reply subject", "queue group").
    package static func validate(_ subject: String, what: String = "subject") throws {
        guard !subject.isEmpty else { throw SightlineError(.invalidArgument, "NATS \(what) is empty") }
        guard !subject.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw SightlineError(.invalidArgument, "NATS \(what) \(JSONText.quoted(subject)) has a space or control character")
        }
    }

    /// Appends `PUB <subject> [reply] <#bytes>\r\n<payload>\r\n`, or `HPUB <subject> [reply] <#header> <#total>\r\n…`
    /// when `headers` is given.
    /// - Returns: The number of bytes the server counts against `max_payload` (header block plus payload).
    @discardableResult
    package static func appendPublish(
        subject: String, replyTo: String?, headers: [UInt8]?, payload: ByteBuffer, to out: inout ByteBuffer
    ) -> Int {
        let total = (headers?.count ?? 0) + payload.readableBytes
        out.writeString(headers == nil ? "PUB " : "HPUB ")
        out.writeString(subject)
        if let replyTo {
            out.writeInteger(UInt8(ascii: " "))
            out.writeString(replyTo)
        }
        if let headers {
            out.writeString(" \(headers.count)")
        }
        out.writeString(" \(total)\r\n")
        if let headers { out.writeBytes(headers) }
        var payload = payload
        out.writeBuffer(&payload)
        out.writeString("\r\n")
        return total
    }

    /// Appends `SUB <subject> [queue] <sid>\r\n`.
    package static func appendSubscribe(subject: String, queue: String?, sid: UInt64, to out: inout ByteBuffer) {
        out.writeString("SUB ")
        out.writeString(subject)
        if let queue { out.writeString(" " + queue) }
        out.writeString(" \(sid)\r\n")
    }

    /// Appends `UNSUB <sid> [max]\r\n`.
    package static func appendUnsubscribe(sid: UInt64, max: Int? = nil, to out: inout ByteBuffer) {
        out.writeString("UNSUB \(sid)")
        if let max { out.writeString(" \(max)") }
        out.writeString("\r\n")
    }

    /// Appends `CONNECT {json}\r\n`: not verbose, not pedantic, headers and no-responders on, `"lang":"swift"`.
    /// - Parameters:
    ///   - name: The connection name the server shows in monitoring.
    ///   - user: User for user/password authentication, or nil.
    ///   - password: Password for user/password authentication, or nil.
    ///   - token: Token for token authentication, or nil.
    package static func appendConnect(name: String?, user: String?, password: String?, token: String?, to out: inout ByteBuffer) {
        var json = #"{"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"no_responders":true,"lang":"swift","version":"1.0.0","protocol":1"#
        if let name { json += #","name":"# + JSONText.quoted(name) }
        if let user { json += #","user":"# + JSONText.quoted(user) }
        if let password { json += #","pass":"# + JSONText.quoted(password) }
        if let token { json += #","auth_token":"# + JSONText.quoted(token) }
        json += "}"
        out.writeString("CONNECT ")
        out.writeString(json)
        out.writeString("\r\n")
    }
}
