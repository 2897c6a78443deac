import Instrumentation
package import Logging
import NIOCore
import SightlineCore
package import SightlineGRPC
import SightlineIngest
import Tracing

/// OTLP/gRPC: the `Export` methods of the logs, metrics and trace collector services, served by a
/// ``SightlineGRPC/UnaryGRPCServer`` whose calls go through the ingestion pipeline.
package enum OTLPGRPCServer {
    package static func make(address: HostAndPort, api: APIDependencies, logger: Logger) -> UnaryGRPCServer {
        let service = OTLPGRPCService(api: api)
        return UnaryGRPCServer(
            host: address.host, port: address.port, maxMessageBytes: api.limits.maxBodyBytes, name: "OTLP/gRPC", logger: logger,
            handler: { call in await service.handle(call) })
    }
}

/// The OTLP collector services: routes a call by its path, decodes it, and ingests it through the pipeline.
struct OTLPGRPCService: Sendable {
    let api: APIDependencies

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
        guard let signal = GRPCCall.otlpSignal(path: call.path) else {
            return .failure(code: 12, message: "unknown method \(call.path)")
        }
        do {
            let identity = try api.authenticator.identify(authorization: call.authorization, requiring: .ingest)
            guard !call.overLimit else {
                throw SightlineError(.tooLarge, "request message exceeds the limit of \(api.limits.maxBodyBytes) bytes (limits.max_body_bytes)")
            }
            let message = try call.message(limit: api.limits.maxBodyBytes)
            let deltas = OTLPDecoder.Deltas(api.otlpDeltas, tenant: identity.tenant.id)
            var decoded = try message.withUnsafeBytes { try OTLPDecoder.decode(signal, body: $0, format: .protobuf, deltas: deltas, translation: api.otlpTranslation) }
            decoded.request = ReceivedRequest.otlp(signal, format: .protobuf, body: message, decoded: decoded)
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
}

/// Reads propagation fields from a dictionary.
struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}
