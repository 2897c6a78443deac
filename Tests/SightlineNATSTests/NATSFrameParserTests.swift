import NIOCore
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineNATS

/// A frame as comparable text: payloads as hex so binary bytes and CRLF inside them stay visible.
func render(_ frame: NATSServerFrame) -> String {
    switch frame {
    case .info(let json): return "INFO \(json)"
    case .ping: return "PING"
    case .pong: return "PONG"
    case .ok: return "+OK"
    case .error(let text): return "-ERR [\(text)]"
    case .message(let m):
        var out = "MSG \(m.subject) \(m.sid) \(m.replyTo ?? "-")"
        if let headers = m.headers {
            out += " status=\(headers.status.map(String.init) ?? "-") [\(headers.statusDescription)]"
            for field in headers.fields { out += " \(field.name)=\(field.value)" }
        }
        return out + " " + m.bytes.map { String($0, radix: 16) }.joined(separator: ",")
    }
}

/// Feeds `chunks` one after the other into one parser, as a NIO cumulation buffer would, and renders every frame.
func parseChunks(_ chunks: [[UInt8]], parser: NATSFrameParser = NATSFrameParser()) throws -> [String] {
    var parser = parser
    var buffer = ByteBuffer()
    var frames: [String] = []
    for chunk in chunks {
        buffer.writeBytes(chunk)
        while let frame = try parser.next(from: &buffer) { frames.append(render(frame)) }
    }
    #expect(buffer.readableBytes == 0, "bytes left over")
    return frames
}

struct NATSFrameParserTests {
    /// One of every frame the server sends, with CRLF and a zero byte inside a payload and lowercase operations.
    static let stream: [UInt8] = {
        var bytes: [UInt8] = []
        bytes += Array(#"INFO {"server_id":"x","version":"2.9.10","max_payload":1048576,"headers":true}"#.utf8) + [13, 10]
        bytes += Array("PING\r\nPONG\r\n+OK\r\n".utf8)
        bytes += Array("MSG orders.new 7 5\r\nhello\r\n".utf8)
        bytes += Array("MSG orders.new 7 _INBOX.abc.r.1 4\r\n".utf8) + [0x0D, 0x0A, 0x00, 0xFF] + [13, 10]
        bytes += Array("msg  empty\t9   0\r\n\r\n".utf8)
        let headers = Array("NATS/1.0\r\nNats-Msg-Id: job-1\r\nX-Two: a: b\r\n\r\n".utf8)
        bytes += Array("HMSG jobs.a 3 $JS.ACK.S.C.1.2.3.4.5 \(headers.count) \(headers.count + 3)\r\n".utf8) + headers + Array("abc\r\n".utf8)
        let status = Array("NATS/1.0 404 No Messages\r\n\r\n".utf8)
        bytes += Array("HMSG _INBOX.abc.f.2 4 \(status.count) \(status.count)\r\n".utf8) + status + [13, 10]
        bytes += Array("-ERR 'Permissions Violation for Publish to \"x\"'\r\n".utf8)
        return bytes
    }()

    static let expected: [String] = [
        #"INFO {"server_id":"x","version":"2.9.10","max_payload":1048576,"headers":true}"#,
        "PING", "PONG", "+OK",
        "MSG orders.new 7 - 68,65,6c,6c,6f",
        "MSG orders.new 7 _INBOX.abc.r.1 d,a,0,ff",
        "MSG empty 9 - ",
        "MSG jobs.a 3 $JS.ACK.S.C.1.2.3.4.5 status=- [] Nats-Msg-Id=job-1 X-Two=a: b 61,62,63",
        "MSG _INBOX.abc.f.2 4 - status=404 [No Messages] ",
        #"-ERR [Permissions Violation for Publish to "x"]"#,
    ]

    @Test func parsesEveryFrameKindFedAtOnce() throws {
        #expect(try parseChunks([Self.stream]) == Self.expected)
    }

    @Test func parsesTheSameFramesWhenSplitAtEveryByte() throws {
        for split in 0...Self.stream.count {
            let frames = try parseChunks([Array(Self.stream[..<split]), Array(Self.stream[split...])])
            #expect(frames == Self.expected, "split at \(split)")
        }
    }

    @Test func parsesTheSameFramesFedOneByteAtATime() throws {
        #expect(try parseChunks(Self.stream.map { [$0] }) == Self.expected)
    }

    @Test func parsesSeededBinaryPayloadsInRandomChunks() throws {
        var random = SplitMix64(seed: 11)
        var bytes: [UInt8] = []
        var expected: [String] = []
        for index in 0..<200 {
            let payload = (0..<Int(random.next() % 300)).map { _ in UInt8(truncatingIfNeeded: random.next() % 4 == 0 ? 0x0D : random.next()) }
            bytes += Array("MSG s.\(index) \(index) \(payload.count)\r\n".utf8) + payload + [13, 10]
            expected.append("MSG s.\(index) \(index) - " + payload.map { String($0, radix: 16) }.joined(separator: ","))
        }
        var chunks: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            let length = min(Int(random.next() % 97) + 1, bytes.count - offset)
            chunks.append(Array(bytes[offset..<offset + length]))
            offset += length
        }
        #expect(try parseChunks(chunks) == expected)
    }

    @Test func payloadIsASliceOfTheInputNotACopyIntoAString() throws {
        var parser = NATSFrameParser()
        var buffer = ByteBuffer(string: "MSG a 1 3\r\nxyz\r\n")
        guard case .message(let message) = try parser.next(from: &buffer) else {
            Issue.record("no message")
            return
        }
        #expect(message.payload == ByteBuffer(string: "xyz"))
        #expect(message.bytes == Array("xyz".utf8))
    }

    @Test(arguments: [
        ("HELLO world\r\n", "unknown operation"),
        ("MSG a 1\r\n", "needs 3 or 4 arguments"),
        ("MSG a 1 b c d\r\n", "needs 3 or 4 arguments"),
        ("MSG a x 3\r\nabc\r\n", "subscription id"),
        ("MSG a 1 3x\r\nabc\r\n", "not a decimal number"),
        ("MSG a 1 99999999999999999999999\r\n", "larger than"),
        ("MSG a 1 3\r\nabcd\r\n", "not followed by CRLF"),
        ("HMSG a 1 10 5\r\n", "header size 10 is larger than its total size 5"),
        ("HMSG a 1 5 5\r\nHTTP/\r\n", "does not start with NATS/1.0"),
        ("HMSG a 1 16 16\r\nNATS/1.0 abc\r\n\r\n\r\n", "status"),
        ("HMSG a 1 21 21\r\nNATS/1.0\r\nnocolon\r\n\r\n\r\n", "has no colon"),
        ("INFO nope\r\n", "JSON object"),
        ("\r\n", "empty control line"),
    ])
    func malformedFramesFailWithAClearError(input: String, expected: String) {
        let error = sightlineError { _ = try parseChunks([Array(input.utf8)]) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "no error")")
    }

    @Test func overlongControlLineFailsInsteadOfBufferingForever() {
        let parser = NATSFrameParser(maxControlLineLength: 64)
        let error = sightlineError { _ = try parseChunks([Array(("MSG " + String(repeating: "a", count: 100)).utf8)], parser: parser) }
        #expect(error?.message.contains("longer than 64 bytes") == true)
        let terminated = sightlineError { _ = try parseChunks([Array(("INFO {" + String(repeating: "a", count: 100) + "}\r\n").utf8)], parser: parser) }
        #expect(terminated?.message.contains("longer than 64 bytes") == true)
    }

    @Test func messageOverTheSizeLimitFails() {
        let parser = NATSFrameParser(maxMessageLength: 10)
        let error = sightlineError { _ = try parseChunks([Array("MSG a 1 11\r\n".utf8)], parser: parser) }
        #expect(error?.message.contains("larger than 10") == true)
    }
}
