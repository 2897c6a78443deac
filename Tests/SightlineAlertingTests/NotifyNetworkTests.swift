import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SightlineCore
import SightlineTestSupport
import Synchronization
import Testing

@testable import SightlineAlerting

/// A scripted SMTP server on 127.0.0.1 for one connection; it records every line it reads.
final class FakeSMTPServer: Sendable {
    let transcript = Mutex<[String]>([])
    let message = Mutex<String>("")
    let port: Int
    private let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    /// Extra EHLO lines (extensions).
    let extensions: [String]
    /// When set, STARTTLS switches the connection to TLS with this context.
    let tls: NIOSSLContext?

    init(extensions: [String] = ["AUTH PLAIN LOGIN", "8BITMIME"], tls: NIOSSLContext? = nil) async throws {
        self.extensions = extensions
        self.tls = tls
        server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        port = server.channel.localAddress?.port ?? 0
    }

    /// Serves one connection, then closes.
    func serveOne() async throws {
        try await server.executeThenClose { connections in
            for try await connection in connections {
                try await connection.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(string: "220 fake ESMTP\r\n"))
                    var pending: [UInt8] = []
                    var inData = false
                    var data = ""
                    for try await buffer in inbound {
                        pending += buffer.readableBytesView
                        while let newline = pending.firstIndex(of: 0x0A) {
                            var lineBytes = Array(pending[..<newline])
                            pending.removeSubrange(...newline)
                            if lineBytes.last == 0x0D { lineBytes.removeLast() }
                            let line = String(decoding: lineBytes, as: UTF8.self)
                            if inData {
                                if line == "." {
                                    inData = false
                                    message.withLock { $0 = data }
                                    try await outbound.write(ByteBuffer(string: "250 queued\r\n"))
                                } else {
                                    data += line + "\r\n"
                                }
                                continue
                            }
                            transcript.withLock { $0.append(line) }
                            let verb = line.split(separator: " ").first.map { $0.uppercased() } ?? ""
                            let reply: String
                            switch verb {
                            case "EHLO": reply = (["250-fake"] + extensions.dropLast().map { "250-" + $0 } + extensions.suffix(1).map { "250 " + $0 }).joined(separator: "\r\n")
                            case "AUTH": reply = line.hasPrefix("AUTH PLAIN") ? "235 ok" : "334 VXNlcm5hbWU6"
                            case "MAIL", "RCPT": reply = "250 ok"
                            case "DATA": inData = true; reply = "354 go ahead"
                            case "STARTTLS":
                                guard let tls else { reply = "454 no TLS"; break }
                                // Reply in plain text, then put TLS first in the pipeline, in one event-loop turn.
                                let channel = connection.channel
                                try await channel.eventLoop.submit {
                                    channel.writeAndFlush(ByteBuffer(string: "220 go ahead\r\n"), promise: nil)
                                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
                                }.get()
                                continue
                            case "QUIT": reply = "221 bye"
                            default: reply = "500 what"
                            }
                            try await outbound.write(ByteBuffer(string: reply + "\r\n"))
                            if verb == "QUIT" { return }
                        }
                    }
                }
                return
            }
        }
    }
}

@Suite struct NotifyNetworkTests {
    func emailConfig(port: Int) -> EmailConfig {
        var config = EmailConfig()
        config.to = "ops@example.org"
        config.from = "am@example.org"
        config.smarthost = "127.0.0.1:\(port)"
        config.authUsername = "user"
        config.authPassword = "pass"
        config.requireTLS = false
        return config
    }

    @Test func smtpDialogue() async throws {
        let server = try await FakeSMTPServer()
        async let served: Void = server.serveOne()
        let message = EmailMessage(from: "am@example.org", recipients: ["ops@example.org", "b@example.org"], data: "Subject: hi\r\n\r\n.leading dot\r\nbody\r\n")
        try await SMTPClient().send(message, config: emailConfig(port: server.port), timeoutMs: 30_000)
        try await served
        let transcript = server.transcript.withLock { $0 }
        #expect(transcript == [
            "EHLO localhost", "AUTH PLAIN \(Base64.encode(Array("\0user\0pass".utf8)))", "MAIL FROM:<am@example.org>",
            "RCPT TO:<ops@example.org>", "RCPT TO:<b@example.org>", "DATA", "QUIT",
        ])
        // Dot-stuffing: the server sees the doubled dot.
        #expect(server.message.withLock { $0 } == "Subject: hi\r\n\r\n..leading dot\r\nbody\r\n")
    }

    @Test func smtpRequireTLSWithoutStartTLSFails() async throws {
        let server = try await FakeSMTPServer(extensions: ["8BITMIME"])
        async let served: Void = server.serveOne()
        var config = emailConfig(port: server.port)
        config.requireTLS = true
        let message = EmailMessage(from: "a@b", recipients: ["c@d"], data: "x\r\n")
        let error = await #expect(throws: SightlineError.self) { try await SMTPClient().send(message, config: config, timeoutMs: 30_000) }
        #expect(error?.code == .configuration && error?.message.contains("STARTTLS") == true)
        try? await served
    }

    @Test func httpPostToALocalServer() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        let port = try #require(server.channel.localAddress?.port)
        let received = Mutex<(String, String, String)>(("", "", ""))
        async let served: Void = server.executeThenClose { connections in
            for try await connection in connections {
                try await connection.executeThenClose { inbound, outbound in
                    var body = ""
                    for try await part in inbound {
                        switch part {
                        case .head(let head):
                            received.withLock { $0.0 = head.uri; $0.2 = head.headers["Authorization"].first ?? "" }
                        case .body(let buffer): body += String(buffer: buffer)
                        case .end:
                            received.withLock { $0.1 = body }
                            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .accepted, headers: ["Content-Length": "2"])))
                            try await outbound.write(.body(.byteBuffer(ByteBuffer(string: "ok"))))
                            try await outbound.write(.end(nil))
                            return
                        }
                    }
                }
                return
            }
        }
        let response = try await NotifyHTTPClient().post(
            url: "http://127.0.0.1:\(port)/hook?x=1", headers: [("Authorization", "Bearer t")], body: Array(#"{"a":1}"#.utf8),
            timeoutMs: 30_000)  // what is tested is the exchange; a loaded two-core CI host once took over 5 s to serve it
        try await served
        #expect(response.status == 202 && response.body == Array("ok".utf8))
        #expect(received.withLock { $0 } == ("/hook?x=1", #"{"a":1}"#, "Bearer t"))
    }

    @Test func httpErrorsAreClear() async throws {
        await #expect(throws: SightlineError.self) {
            _ = try await NotifyHTTPClient().post(url: "http://127.0.0.1:1/x", headers: [], body: [], timeoutMs: 2000)
        }
        let scheme = await #expect(throws: SightlineError.self) {
            _ = try await NotifyHTTPClient().post(url: "ftp://hooks.example/x", headers: [], body: [], timeoutMs: 2000)
        }
        #expect(scheme?.code == .invalidArgument && scheme?.message.contains("not an http:// or https:// URL") == true)
        let https = try NotifyHTTPClient.Target(url: "https://events.pagerduty.com/v2/enqueue")
        #expect(https.useTLS && https.port == 443 && https.pathAndQuery == "/v2/enqueue")
        #expect(try NotifyHTTPClient.Target(url: "http://[::1]:9093/api").hostHeader == "[::1]:9093")
        #expect(try NotifyHTTPClient.Target(url: "http://am").pathAndQuery == "/")
        #expect(throws: SightlineError.self) { _ = try NotifyHTTPClient.Target(url: "http://:80/") }
    }
}
