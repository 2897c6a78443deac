import Foundation
package import NIOCore
import NIOPosix
package import NIOSSL
import SightlineCore

/// An email ready to send: envelope addresses and the full RFC 5322 message.
package struct EmailMessage: Sendable {
    package var from: String
    package var recipients: [String]
    /// The message with CRLF line ends, headers and MIME body, not yet dot-stuffed.
    package var data: String
}

/// Builds Alertmanager-style notification emails: `To`, `From`, `Subject`, `Date`, `Message-Id`, configured headers,
/// and a `multipart/alternative` body with a text part (when `text` is set) and an HTML part.
package enum NotifyEmail {
    /// Renders the message for `data` with `config`.
    /// - Throws: `configuration` when a template fails.
    package static func message(_ data: NotificationData, config: EmailConfig, nowMs: Int64, messageID: String) throws -> EmailMessage {
        var headers: [(String, String)] = [
            ("From", config.from), ("To", config.to), ("Subject", #"{{ template "email.default.subject" . }}"#),
        ]
        for (name, value) in config.headers {
            if let index = headers.firstIndex(where: { $0.0.lowercased() == name.lowercased() }) { headers[index].1 = value } else { headers.append((name, value)) }
        }
        var rendered: [(String, String)] = []
        for (name, template) in headers {
            rendered.append((name, try data.render(template, field: "email header \(name)")))
        }
        let from = rendered.first { $0.0 == "From" }?.1 ?? config.from
        let to = rendered.first { $0.0 == "To" }?.1 ?? config.to
        let boundary = "sightline-" + SHA256.hex(messageID).prefix(24)
        var out = ""
        for (name, value) in rendered {
            out += "\(name): \(name == "Subject" ? encodeHeader(value) : value.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " "))\r\n"
        }
        out += "Date: \(rfc5322Date(nowMs))\r\n"
        out += "Message-Id: <\(messageID)>\r\n"
        out += "MIME-Version: 1.0\r\n"
        out += "Content-Type: multipart/alternative; boundary=\"\(boundary)\"\r\n\r\n"
        if !config.text.isEmpty {
            out += "--\(boundary)\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            out += wrappedBase64(try data.render(config.text, field: "email text"))
        }
        if !config.html.isEmpty {
            out += "--\(boundary)\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            // Alertmanager renders the HTML body with html/template: values are escaped.
            out += wrappedBase64(try data.render(config.html, field: "email html", html: true))
        }
        out += "--\(boundary)--\r\n"
        return EmailMessage(from: address(from), recipients: to.split(separator: ",").map { address(String($0)) }.filter { !$0.isEmpty }, data: out)
    }

    /// The bare address of `Name <user@host>` or `user@host`.
    static func address(_ text: String) -> String {
        if let open = text.lastIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close {
            return String(text[text.index(after: open)..<close]).notifyTrimmed
        }
        return text.notifyTrimmed
    }

    /// A header value, RFC 2047-encoded when it is not plain ASCII.
    static func encodeHeader(_ value: String) -> String {
        let flat = value.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if flat.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return flat }
        return "=?UTF-8?b?\(Base64.encode(Array(flat.utf8)))?="
    }

    /// Base64 in lines of 76 characters, CRLF-terminated.
    static func wrappedBase64(_ text: String) -> String {
        let encoded = Array(Base64.encode(Array(text.utf8)))
        var out = ""
        var index = 0
        while index < encoded.count {
            out += String(encoded[index..<min(index + 76, encoded.count)]) + "\r\n"
            index += 76
        }
        return out
    }

    /// `Thu, 26 Nov 2026 10:00:00 +0000`.
    static func rfc5322Date(_ ms: Int64) -> String {
        let days = NotifyRFC3339.floorDiv(ms, 86_400_000)
        let (year, month, day) = NotifyRFC3339.civil(fromDays: days)
        let weekday = Int(((days % 7) + 7 + 4) % 7)
        let seconds = (ms - days * 86_400_000) / 1000
        let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(names[weekday]), \(two(day)) \(months[Int(month) - 1]) \(year) \(two(seconds / 3600)):\(two(seconds / 60 % 60)):\(two(seconds % 60)) +0000"
    }
}

/// An SMTP client over SwiftNIO, as Alertmanager talks to a smarthost: implicit TLS on port 465; otherwise EHLO and
/// STARTTLS when the server offers it (required unless `require_tls: false`), then EHLO again; AUTH PLAIN or LOGIN
/// (only over TLS or to a loopback host, as Go's client allows); MAIL FROM, RCPT TO, DATA with dot-stuffing, QUIT.
package struct SMTPClient: Sendable {
    private let eventLoopGroup: any EventLoopGroup
    private let tls: NotifyTLS

    /// Creates a client; `tlsConfiguration` is used for STARTTLS and port 465.
    package init(eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, tlsConfiguration: TLSConfiguration = .makeClientConfiguration()) {
        self.eventLoopGroup = eventLoopGroup
        self.tls = NotifyTLS(tlsConfiguration)
    }

    /// Sends `message` through `config.smarthost`.
    /// - Throws: `unavailable` for connection problems (TLS handshakes included), timeouts and 4xx replies;
    ///   `invalidArgument` for 5xx replies; `configuration` when TLS is required but not offered, or AUTH is needed
    ///   but not offered or not safe.
    package func send(_ message: EmailMessage, config: EmailConfig, timeoutMs: Int64) async throws {
        guard let colon = config.smarthost.lastIndex(of: ":"), let port = Int(config.smarthost[config.smarthost.index(after: colon)...]) else {
            throw SightlineError(.configuration, "smarthost \"\(config.smarthost)\" is not host:port")
        }
        let host = String(config.smarthost[..<colon])
        let timeout = TimeAmount.milliseconds(max(1, timeoutMs))
        let implicitTLS = port == 465
        let context = try tls.context(config.tls)
        let serverName = NotifyTLS.serverName(host, config.tls)
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(timeout)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if implicitTLS { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName)) }
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw SightlineError(.unavailable, "cannot connect to SMTP server \(config.smarthost)", cause: error)
        }
        let deadline = channel.channel.eventLoop.scheduleTask(in: timeout) { channel.channel.close(promise: nil) }
        defer { deadline.cancel() }
        let nioChannel = channel.channel
        try await channel.executeThenClose { inbound, outbound in
            var session = SMTPSession(inbound: inbound.makeAsyncIterator(), outbound: outbound, server: config.smarthost)
            _ = try await session.expect(220, after: nil)
            var features = try await session.expect(250, after: "EHLO \(config.hello)")
            var encrypted = implicitTLS
            if !encrypted, Self.extensions(features).contains("STARTTLS") {
                _ = try await session.expect(220, after: "STARTTLS")
                // TLS goes first in the pipeline, under the async channel's handler, which then reads plain text again.
                try await nioChannel.eventLoop.submit {
                    try nioChannel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName), position: .first)
                }.get()
                encrypted = true
                features = try await session.expect(250, after: "EHLO \(config.hello)")
            }
            if config.requireTLS, !encrypted {
                throw SightlineError(
                    .configuration,
                    "'require_tls' is true (default) but \(config.smarthost) does not advertise the STARTTLS extension; set require_tls: false to send without TLS")
            }
            if !config.authUsername.isEmpty {
                guard encrypted || host == "localhost" || host == "127.0.0.1" || host == "::1" else {
                    throw SightlineError(.configuration, "refusing to send the SMTP password to \(config.smarthost) without TLS")
                }
                guard let auth = features.dropFirst().first(where: { $0.uppercased().hasPrefix("AUTH") }) else {
                    throw SightlineError(.configuration, "auth_username is set but \(config.smarthost) does not advertise AUTH")
                }
                let mechanisms = Set(auth.uppercased().split(whereSeparator: { $0 == " " || $0 == "=" }).dropFirst().map(String.init))
                if mechanisms.contains("PLAIN") {
                    let token = Base64.encode(Array("\0\(config.authUsername)\0\(config.authPassword)".utf8))
                    _ = try await session.expect(235, after: "AUTH PLAIN \(token)")
                } else if mechanisms.contains("LOGIN") {
                    _ = try await session.expect(334, after: "AUTH LOGIN")
                    _ = try await session.expect(334, after: Base64.encode(Array(config.authUsername.utf8)))
                    _ = try await session.expect(235, after: Base64.encode(Array(config.authPassword.utf8)))
                } else {
                    throw SightlineError(.configuration, "\(config.smarthost) offers no AUTH mechanism Sightline supports (PLAIN, LOGIN): \(auth)")
                }
            }
            _ = try await session.expect(250, after: "MAIL FROM:<\(message.from)>")
            for recipient in message.recipients { _ = try await session.expect(250, 251, after: "RCPT TO:<\(recipient)>") }
            _ = try await session.expect(354, after: "DATA")
            var body = ""
            for line in message.data.split(separator: "\r\n", omittingEmptySubsequences: false).dropLast() {
                body += (line.hasPrefix(".") ? "." : "") + line + "\r\n"
            }
            _ = try await session.expect(250, after: body + ".")
            _ = try? await session.expect(221, after: "QUIT")
        }
    }

    /// The extension keywords of an EHLO reply (its lines after the greeting).
    static func extensions(_ features: [String]) -> Set<String> {
        Set(features.dropFirst().map { $0.split(separator: " ").first.map { String($0).uppercased() } ?? "" })
    }
}

/// The command/reply exchange of one SMTP connection.
private struct SMTPSession {
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let server: String
    var pending: [UInt8] = []

    /// Sends `command` (when given) and reads one reply, which must have one of `codes`; returns its lines' texts.
    mutating func expect(_ codes: Int..., after command: String?) async throws -> [String] {
        if let command { try await outbound.write(ByteBuffer(string: command + "\r\n")) }
        var lines: [String] = []
        while true {
            let line = try await readLine()
            guard line.count >= 3, let code = Int(line.prefix(3)) else {
                throw SightlineError(.unavailable, "SMTP server \(server) sent a malformed reply \"\(line)\"")
            }
            lines.append(String(line.dropFirst(4)))
            if line.count > 3, line[line.index(line.startIndex, offsetBy: 3)] == "-" { continue }
            guard codes.contains(code) else {
                let verb = command.map { String($0.prefix(while: { $0 != " " && $0 != "\r" }).prefix(10)) } ?? "connect"
                throw SightlineError(code >= 500 ? .invalidArgument : .unavailable, "SMTP server \(server) answered \(verb) with \(line)")
            }
            return lines
        }
    }

    mutating func readLine() async throws -> String {
        while true {
            if let newline = pending.firstIndex(of: 0x0A) {
                var line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                if line.last == 0x0D { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard let buffer = try await inbound.next() else {
                throw SightlineError(.unavailable, "SMTP server \(server) closed the connection (or the send timed out)")
            }
            pending += buffer.readableBytesView
        }
    }
}
