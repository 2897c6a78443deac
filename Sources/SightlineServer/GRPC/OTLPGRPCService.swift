import Instrumentation
import Tracing
import NIOCore
import SightlineCore
import SightlineIngest

/// A unary gRPC request as the stream handler collected it.
struct GRPCCall: Sendable {
    var path: String
    var authorization: String?
    var messageEncoding: String?
    /// The W3C trace context the client sent, if any.
    var traceparent: String? = nil
    var body: ByteBuffer
    var overLimit: Bool

    /// Percent-encodes a `grpc-message` value as the gRPC HTTP/2 protocol asks (bytes outside 0x20–0x7E and '%').
    static func percentEncode(_ message: String) -> String {
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
enum GRPCResult: Sendable {
    case message([UInt8])
    case failure(code: Int, message: String)
}

/// The OTLP collector services: routes a call by its path, decodes it, and ingests it through the pipeline.
struct OTLPGRPCService: Sendable {
    let api: APIDependencies

    private static let paths: [String: Signal] = [
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export": .logs,
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export": .metrics,
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export": .traces,
    ]

    /// Serves one call, in a server span of Sightline's own traces when ingestion requests are traced.
    func handle(_ call: GRPCCall) async -> GRPCResult {
        guard let tracer = api.selfTracer, api.selfTracingIngest else { return await serve(call) }
        var parent = InstrumentationContext.topLevel
        if let header = call.traceparent { tracer.extract(["traceparent": header], into: &parent, using: DictionaryExtractor()) }
        let span = tracer.startSpan(String(call.path.drop { $0 == "/" }), context: parent, ofKind: .server)
        span.attributes["rpc.system"] = "grpc"
        let result = await serve(call)
        switch result {
        case .message: span.attributes["rpc.grpc.status_code"] = 0
        case .failure(let code, let message):
            span.attributes["rpc.grpc.status_code"] = code
            span.setStatus(SpanStatus(code: .error, message: message))
        }
        span.end()
        return result
    }

    private func serve(_ call: GRPCCall) async -> GRPCResult {
        guard let signal = Self.paths[call.path] else {
            return .failure(code: 12, message: "unknown method \(call.path)")
        }
        do {
            let identity = try api.authenticator.identify(authorization: call.authorization, requiring: .ingest)
            guard !call.overLimit else {
                throw SightlineError(.tooLarge, "request message exceeds the limit of \(api.limits.maxBodyBytes) bytes (limits.max_body_bytes)")
            }
            let message = try Self.unframe(call.body, encoding: call.messageEncoding, limit: api.limits.maxBodyBytes)
            let decoded = try message.withUnsafeBytes { try OTLPDecoder.decode(signal, body: $0, format: .protobuf) }
            let outcome = try await api.pipeline.ingest(decoded, tenant: identity.tenant, protocol: "otlp_grpc", bytes: call.body.readableBytes)
            return .message(OTLPResponse.export(signal, rejected: outcome.rejected, message: outcome.message, format: .protobuf))
        } catch let error as SightlineError {
            api.metrics.refusedRequest(protocol: "otlp_grpc", status: "\(OTLPResponse.grpcCode(error.code))")
            return .failure(code: OTLPResponse.grpcCode(error.code), message: error.description)
        } catch {
            api.metrics.refusedRequest(protocol: "otlp_grpc", status: "13")
            return .failure(code: 13, message: "\(error)")
        }
    }

    /// Reads the one length-prefixed message of a unary call, decompressing it when its flag says so.
    static func unframe(_ body: ByteBuffer, encoding: String?, limit: Int) throws -> [UInt8] {
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
        switch encoding?.lowercased() {
        case "gzip": return try bytes.withUnsafeBytes { try Gzip.decompress($0, maxOutput: limit) }
        default: throw SightlineError(.unsupportedMediaType, "unsupported grpc-encoding \"\(encoding ?? "")\": use gzip or identity")
        }
    }
}

/// Reads propagation fields from a dictionary.
struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}
