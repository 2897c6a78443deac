import NIOCore
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineNATS

struct NATSProtocolTests {
    @Test func publishAndHeaderPublishAreFramedAsTheProtocolSays() throws {
        var buffer = ByteBuffer()
        let size = NATSCommandEncoder.appendPublish(subject: "a.b", replyTo: nil, headers: nil, payload: ByteBuffer(string: "hi"), to: &buffer)
        #expect(size == 2)
        #expect(String(buffer: buffer) == "PUB a.b 2\r\nhi\r\n")
        var headers = NATSHeaders()
        headers.append("Nats-Msg-Id", "1")
        let block = try headers.encoded()
        #expect(String(decoding: block, as: UTF8.self) == "NATS/1.0\r\nNats-Msg-Id: 1\r\n\r\n")
        buffer.clear()
        let total = NATSCommandEncoder.appendPublish(subject: "a", replyTo: "r", headers: block, payload: ByteBuffer(string: "xy"), to: &buffer)
        #expect(total == block.count + 2)
        #expect(String(buffer: buffer) == "HPUB a r \(block.count) \(block.count + 2)\r\nNATS/1.0\r\nNats-Msg-Id: 1\r\n\r\nxy\r\n")
        buffer.clear()
        NATSCommandEncoder.appendSubscribe(subject: "a.*", queue: "q", sid: 4, to: &buffer)
        NATSCommandEncoder.appendUnsubscribe(sid: 4, to: &buffer)
        #expect(String(buffer: buffer) == "SUB a.* q 4\r\nUNSUB 4\r\n")
    }

    @Test func connectSaysNotVerboseNotPedanticHeadersAndSwift() {
        var buffer = ByteBuffer()
        NATSCommandEncoder.appendConnect(name: "n\"1", user: nil, password: nil, token: nil, to: &buffer)
        let text = String(buffer: buffer)
        #expect(text.hasPrefix("CONNECT {") && text.hasSuffix("}\r\n"))
        for part in [#""verbose":false"#, #""pedantic":false"#, #""headers":true"#, #""lang":"swift""#, #""name":"n\"1""#] {
            #expect(text.contains(part), "\(part) missing from \(text)")
        }
    }

    @Test func headersRoundTripWithStatusAndRepeatedNames() throws {
        var headers = NATSHeaders([("A", "1"), ("A", "2"), ("b-c", "x: y")], status: 408, statusDescription: "Request Timeout")
        let parsed = try NATSHeaders.parse(try headers.encoded())
        #expect(parsed == headers)
        #expect(parsed["A"] == "1")
        #expect(parsed["B-C"] == "x: y")
        #expect(parsed["missing"] == nil)
        headers.append("bad name", "v")
        #expect(sightlineError { _ = try headers.encoded() }?.message.contains("bad name") == true)
        let lineBreak = NATSHeaders([("k", "a\r\nb")])
        #expect(sightlineError { _ = try lineBreak.encoded() }?.code == .invalidArgument)
    }

    @Test func subjectsWithSpacesOrNothingAreRejected() {
        #expect(sightlineError { try NATSCommandEncoder.validate("a b") }?.message.contains("\"a b\"") == true)
        #expect(sightlineError { try NATSCommandEncoder.validate("") }?.code == .invalidArgument)
        #expect(sightlineError { try NATSCommandEncoder.validate("a.*.>") } == nil)
    }

    @Test func ackSubjectsGiveDeliveryCountAndSequences() throws {
        let v1 = try JetStreamMetadata(ackSubject: "$JS.ACK.JOBS.workers.2.17.5.1700000000000000000.3")
        #expect(v1.stream == "JOBS" && v1.consumer == "workers")
        #expect(v1.deliveryCount == 2 && v1.streamSequence == 17 && v1.consumerSequence == 5 && v1.pending == 3)
        #expect(v1.timestampNanoseconds == 1_700_000_000_000_000_000)
        let v2 = try JetStreamMetadata(ackSubject: "$JS.ACK.hub.ACCHASH.JOBS.workers.1.9.8.1700000000000000000.0.rand")
        #expect(v2.stream == "JOBS" && v2.deliveryCount == 1 && v2.streamSequence == 9)
        #expect(sightlineError { _ = try JetStreamMetadata(ackSubject: "_INBOX.x.y") }?.message.contains("not a JetStream ack subject") == true)
        #expect(sightlineError { _ = try JetStreamMetadata(ackSubject: "$JS.ACK.S.C.x.1.1.1.1") }?.message.contains("non-numeric") == true)
    }

    @Test func urlsGiveHostPortAndCredentials() throws {
        let plain = try NATSURL("nats://127.0.0.1:4333")
        #expect(plain.host == "127.0.0.1" && plain.port == 4333 && plain.user == nil)
        let defaults = try NATSURL("localhost")
        #expect(defaults.host == "localhost" && defaults.port == 4222)
        let auth = try NATSURL("nats://me:secret@example.org")
        #expect(auth.user == "me" && auth.password == "secret" && auth.host == "example.org")
        let token = try NATSURL("nats://tok@[::1]:5000")
        #expect(token.token == "tok" && token.host == "::1" && token.port == 5000 && token.endpoint == "[::1]:5000")
        #expect(sightlineError { _ = try NATSURL("tls://a:1") }?.message.contains("only nats://") == true)
        #expect(sightlineError { _ = try NATSURL("nats://a:99999") }?.message.contains("not 1-65535") == true)
        #expect(sightlineError { _ = try NATSURL("nats://:4222") }?.message.contains("no host") == true)
    }

    @Test func streamAndConsumerConfigsBecomeTheAPIsJSON() {
        let stream = JetStreamStreamConfig(
            name: "JOBS", subjects: ["jobs.>"], retention: .workQueue, storage: .file, maxAge: .seconds(60), duplicateWindow: .seconds(2))
        #expect(
            stream.json()
                == #"{"name":"JOBS","subjects":["jobs.>"],"retention":"workqueue","storage":"file","num_replicas":1,"max_age":60000000000,"duplicate_window":2000000000,"max_msgs":-1,"max_bytes":-1,"discard":"old"}"#
        )
        let consumer = JetStreamConsumerConfig(durableName: "w", filterSubject: "jobs.a", ackWait: .milliseconds(1500), maxDeliver: 3)
        #expect(
            consumer.json()
                == #"{"durable_name":"w","deliver_policy":"all","ack_policy":"explicit","replay_policy":"instant","ack_wait":1500000000,"max_deliver":3,"filter_subject":"jobs.a"}"#
        )
    }
}
