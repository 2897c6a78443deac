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

/// A self-signed certificate for localhost and 127.0.0.1, made for these tests only.
let notifyTestCertificate = """
    -----BEGIN CERTIFICATE-----
    MIIBmzCCAUGgAwIBAgIUZwqd/qnjIE+ZB5AKCn1457Zn/GwwCgYIKoZIzj0EAwIw
    FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNjEwNTU0OFoYDzIxMjYxMTAy
    MTA1NTQ4WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
    PQMBBwNCAAQbHNpdqGlMqIQdegel6isldHYoLwwLoBwwvOD95R8bODBkOuQEEXEu
    EWIYhKFDBreTIFLaDW7AmjVnE/0s1Lxoo28wbTAdBgNVHQ4EFgQUKo2kWyuYNzQu
    nZWwzkmmZ+IOVvgwHwYDVR0jBBgwFoAUKo2kWyuYNzQunZWwzkmmZ+IOVvgwDwYD
    VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
    zj0EAwIDSAAwRQIhALWHUmgL07mBM/PXT7KCQYoIvKVuuGplYQmwawhWaGZoAiB0
    o8vu1pL0me6eEjJ1mHIJ+MnZKIS66srz5fv7kcbO9A==
    -----END CERTIFICATE-----
    """

/// Its private key (test-only).
let notifyTestKey = """
    -----BEGIN PRIVATE KEY-----
    MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQghpbL+CVWvcO9pgDk
    ieYrB3eezY16VqWppKuOOFwwkuehRANCAAQbHNpdqGlMqIQdegel6isldHYoLwwL
    oBwwvOD95R8bODBkOuQEEXEuEWIYhKFDBreTIFLaDW7AmjVnE/0s1Lxo
    -----END PRIVATE KEY-----
    """

@Suite struct NotifyTLSTests {
    func serverContext() throws -> NIOSSLContext {
        let certificate = try NIOSSLCertificate(bytes: Array(notifyTestCertificate.utf8), format: .pem)
        let key = try NIOSSLPrivateKey(bytes: Array(notifyTestKey.utf8), format: .pem)
        return try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(key)))
    }

    /// A client configuration that trusts only the test certificate.
    func clientConfiguration() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(notifyTestCertificate.utf8), format: .pem)])
        return configuration
    }

    @Test func httpsPost() async throws {
        let context = try serverContext()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        let port = try #require(server.channel.localAddress?.port)
        let received = Mutex("")
        async let served: Void = server.executeThenClose { connections in
            for try await connection in connections {
                try? await connection.executeThenClose { inbound, outbound in
                    for try await part in inbound {
                        if case .body(let buffer) = part { received.withLock { $0 += String(buffer: buffer) } }
                        if case .end = part {
                            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "0"])))
                            try await outbound.write(.end(nil))
                            return
                        }
                    }
                }
                return
            }
        }
        let client = NotifyHTTPClient(tlsConfiguration: try clientConfiguration())
        let response = try await client.post(url: "https://localhost:\(port)/hook", headers: [], body: Array("secret".utf8), timeoutMs: 30_000)
        try await served
        #expect(response.status == 200)
        #expect(received.withLock { $0 } == "secret")
    }

    @Test func httpsRejectsAnUntrustedCertificate() async throws {
        let context = try serverContext()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let port = try #require(server.channel.localAddress?.port)
        async let served: Void = server.executeThenClose { connections in
            for try await connection in connections {
                try? await connection.executeThenClose { inbound, _ in for try await _ in inbound {} }
                return
            }
        }
        // The default configuration trusts the system's roots, not the test certificate.
        let error = await #expect(throws: SightlineError.self) {
            _ = try await NotifyHTTPClient().post(url: "https://localhost:\(port)/hook", headers: [], body: [], timeoutMs: 30_000)
        }
        // A failed handshake (or, on a machine without a trust store, no usable TLS setup): never a success.
        #expect(error?.code == .unavailable || error?.code == .configuration)
        // Stop accepting, in case no connection was made.
        try? await server.channel.close()
        try? await served
    }

    @Test func smtpStartTLS() async throws {
        let server = try await FakeSMTPServer(extensions: ["STARTTLS", "AUTH PLAIN"], tls: try serverContext())
        async let served: Void = server.serveOne()
        var config = EmailConfig()
        config.to = "ops@example.org"
        config.from = "am@example.org"
        config.smarthost = "localhost:\(server.port)"
        config.authUsername = "user"
        config.authPassword = "pass"
        let message = EmailMessage(from: "am@example.org", recipients: ["ops@example.org"], data: "Subject: tls\r\n\r\nbody\r\n")
        try await SMTPClient(tlsConfiguration: try clientConfiguration()).send(message, config: config, timeoutMs: 30_000)
        try await served
        #expect(server.transcript.withLock { $0 } == [
            "EHLO localhost", "STARTTLS", "EHLO localhost", "AUTH PLAIN \(Base64.encode(Array("\0user\0pass".utf8)))",
            "MAIL FROM:<am@example.org>", "RCPT TO:<ops@example.org>", "DATA", "QUIT",
        ])
        #expect(server.message.withLock { $0 } == "Subject: tls\r\n\r\nbody\r\n")
    }

    /// Serves `count` HTTPS requests with 200 on 127.0.0.1; returns the port and the serving task.
    func httpsServer(count: Int) async throws -> (Int, Task<Void, any Error>) {
        let context = try serverContext()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress?.port ?? 0
        let task = Task {
            try await server.executeThenClose { connections in
                var served = 0
                for try await connection in connections {
                    try? await connection.executeThenClose { inbound, outbound in
                        for try await part in inbound {
                            if case .end = part {
                                try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "0"])))
                                try await outbound.write(.end(nil))
                                return
                            }
                        }
                    }
                    served += 1
                    if served == count { return }
                }
            }
        }
        return (port, task)
    }

    @Test func receiverTLSConfigTrustsItsCAOrSkipsVerification() async throws {
        let directory = try TemporaryDirectory(prefix: "notify-tls")
        defer { directory.remove() }
        try Data(notifyTestCertificate.utf8).write(to: URL(fileURLWithPath: directory.file("ca.pem")))
        let (port, served) = try await httpsServer(count: 2)
        var trusted = NotifyTLSOptions()
        trusted.caFile = directory.file("ca.pem")
        trusted.serverName = "localhost"
        // The client's own configuration trusts only the system's roots; the receiver's options add the test CA.
        let client = NotifyHTTPClient()
        #expect(try await client.post(url: "https://127.0.0.1:\(port)/", headers: [], body: [], timeoutMs: 30_000, tls: trusted).status == 200)
        var insecure = NotifyTLSOptions()
        insecure.insecureSkipVerify = true
        #expect(try await client.post(url: "https://127.0.0.1:\(port)/", headers: [], body: [], timeoutMs: 30_000, tls: insecure).status == 200)
        try await served.value

        let yaml = """
            route: {receiver: a}
            receivers:
              - name: a
                webhook_configs:
                  - url: https://hooks.example/x
                    http_config:
                      tls_config: {ca_file: \(directory.file("ca.pem")), server_name: hooks}
            """
        let config = try NotifyConfigFile.parse(yaml, path: "am.yml")
        #expect(config.receivers.first?.webhooks.first?.tls == trusted.with(serverName: "hooks"))
        let missing = sightlineError { _ = try NotifyConfigFile.parse(yaml.replacingOccurrences(of: "ca.pem", with: "nope.pem"), path: "am.yml") }
        #expect(missing?.message.contains("cannot read") == true && missing?.message.contains("line 7") == true)
    }
}

extension NotifyTLSOptions {
    func with(serverName: String) -> NotifyTLSOptions {
        var copy = self
        copy.serverName = serverName
        return copy
    }
}
