package import NIOCore
package import SightlineCore
import SightlineIngest

/// A unary gRPC request as the stream handler collected it.
package struct GRPCCall: Sendable {
    package var path: String
    package var authorization: String?
    package var messageEncoding: String?
    /// The W3C trace context the client sent, if any.
    package var traceparent: String?
    /// The request as it came: 5-byte frame header(s) and message.
    package var body: ByteBuffer
    /// Whether the request was larger than the server's limit (its bytes beyond it were dropped).
    package var overLimit: Bool

    package init(path: String, authorization: String?, messageEncoding: String?, traceparent: String? = nil, body: ByteBuffer, overLimit: Bool) {
        self.path = path
        self.authorization = authorization
        self.messageEncoding = messageEncoding
        self.traceparent = traceparent
        self.body = body
        self.overLimit = overLimit
    }

    /// The OTLP signal of an OTLP collector service method path, nil for other paths.
    package static func otlpSignal(path: String) -> Signal? {
        switch path {
        case "/opentelemetry.proto.collector.logs.v1.LogsService/Export": .logs
        case "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export": .metrics
        case "/opentelemetry.proto.collector.trace.v1.TraceService/Export": .traces
        default: nil
        }
    }

    /// The one length-prefixed message of the unary call, decompressed when its flag says so.
    /// - Throws: `invalidArgument` for a broken frame or several messages; `unsupportedMediaType` for an encoding
    ///   other than gzip and zstd (what OpenTelemetry Collectors offer besides snappy's framing).
    package func message(limit: Int) throws -> [UInt8] {
        var body = body
        guard let compressed = body.readInteger(as: UInt8.self), let length = body.readInteger(as: UInt32.self) else {
            throw SightlineError(.invalidArgument, "gRPC request has no complete message frame header")
        }
        guard let bytes = body.readBytes(length: Int(length)) else {
            throw SightlineError(.invalidArgument, "gRPC message frame announces \(length) bytes but carries \(body.readableBytes)")
        }
        guard body.readableBytes == 0 else {
            throw SightlineError(.invalidArgument, "a unary gRPC request carries more than one message")
        }
        guard compressed != 0 else { return bytes }
        switch messageEncoding?.lowercased() {
        case "gzip": return try bytes.withUnsafeBytes { try Gzip.decompress($0, maxOutput: limit) }
        case "zstd": return try bytes.withUnsafeBytes { try Zstd.decompress($0, maxOutput: limit) }
        default: throw SightlineError(.unsupportedMediaType, "unsupported grpc-encoding \"\(messageEncoding ?? "")\": use gzip, zstd or identity")
        }
    }

    /// Percent-encodes a `grpc-message` value as the gRPC HTTP/2 protocol asks (bytes outside 0x20–0x7E and '%').
    package static func percentEncode(_ message: String) -> String {
        var out = ""
        for byte in message.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

/// The answer to a unary call: a response message, or a gRPC status code and message.
package enum GRPCResult: Sendable {
    case message([UInt8])
    case failure(code: Int, message: String)
}
