import NIOCore
import SightlineCore
import SightlineGRPC
import Testing

/// The compressed message of a unary gRPC call: `grpc-encoding` gzip or zstd (what OpenTelemetry Collectors send).
struct GRPCMessageEncodingTests {
    /// "hello" as `zstd -3` and `gzip` write it.
    private let zstdHello: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x04, 0x58, 0x29, 0x00, 0x00, 0x68, 0x65, 0x6C, 0x6C, 0x6F, 0xA3, 0x6D, 0x9F, 0x88]
    private let gzipHello: [UInt8] = [
        0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xCB, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x86, 0xA6, 0x10, 0x36, 0x05, 0x00,
        0x00, 0x00,
    ]

    private func call(_ message: [UInt8], encoding: String?) -> GRPCCall {
        var body = ByteBuffer()
        body.writeInteger(UInt8(1))
        body.writeInteger(UInt32(message.count))
        body.writeBytes(message)
        return GRPCCall(path: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", authorization: nil, messageEncoding: encoding, body: body, overLimit: false)
    }

    @Test func gzipAndZstdMessagesDecode() throws {
        #expect(try call(zstdHello, encoding: "zstd").message(limit: 100) == Array("hello".utf8))
        #expect(try call(gzipHello, encoding: "gzip").message(limit: 100) == Array("hello".utf8))
    }

    @Test func anotherEncodingIsRefusedByName() {
        do {
            _ = try call(zstdHello, encoding: "snappy").message(limit: 100)
            Issue.record("snappy was accepted")
        } catch let error as SightlineError {
            #expect(error.code == .unsupportedMediaType && error.message.contains("use gzip, zstd or identity"))
        } catch {
            Issue.record("\(error)")
        }
    }
}
