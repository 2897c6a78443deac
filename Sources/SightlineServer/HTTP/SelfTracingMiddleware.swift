import HTTPTypes
import Hummingbird
import Instrumentation
import Tracing

/// Gives every HTTP request Sightline serves a server span of its own trace store (see ``SelfTracer``), continuing
/// the caller's trace when the request carries a W3C `traceparent`.
///
/// Health probes and `/metrics` are not traced; the ingestion routes only when `tracesIngest` is set, since they are
/// the hot path and clients call them thousands of times a second.
struct SelfTracingMiddleware<Context: RequestContext>: RouterMiddleware {
    let tracer: SelfTracer
    let tracesIngest: Bool

    /// Routes never traced.
    static var probes: Set<String> { ["/-/healthy", "/-/ready", "/metrics"] }

    /// Whether a path is an ingestion route.
    static func isIngest(_ path: String) -> Bool {
        OTLPHTTPHandler.allPaths.contains(path) || InfluxWriteHandler.writePaths.contains(path) || path.hasPrefix("/datadog/api/") || path == "/api/v1/write" || path.hasPrefix("/api/v1/import") || path == "/loki/api/v1/push"
            || path == "/_bulk" || path.hasSuffix("/_bulk") || path == "/api/v2/spans"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard !Self.probes.contains(path), tracesIngest || !Self.isIngest(path) else { return try await next(request, context) }
        var parent = InstrumentationContext.topLevel
        tracer.extract(request.headers, into: &parent, using: HeaderExtractor())
        let span = tracer.startSpan("\(request.method.rawValue) \(path)", context: parent, ofKind: .server)
        span.attributes["http.request.method"] = request.method.rawValue
        span.attributes["url.path"] = path
        if let agent = request.headers[.userAgent] { span.attributes["user_agent.original"] = agent }
        do {
            let response = try await InstrumentationContext.$current.withValue(span.context) { try await next(request, context) }
            finish(span, context: context, method: request.method, status: Int(response.status.code), error: nil)
            return response
        } catch {
            finish(span, context: context, method: request.method, status: Int((error as? any HTTPResponseError)?.status.code ?? 500), error: error)
            throw error
        }
    }

    private func finish(_ span: SelfSpan, context: Context, method: HTTPRequest.Method, status: Int, error: (any Error)?) {
        if let route = context.endpointPath {
            span.operationName = "\(method.rawValue) \(route)"
            span.attributes["http.route"] = route
        }
        span.attributes["http.response.status_code"] = status
        if status >= 500 { span.setStatus(SpanStatus(code: .error)) }
        if let error { span.recordError(error) }
        span.end()
    }
}

/// Reads propagation headers from HTTP fields.
struct HeaderExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { carrier[$0] }
    }
}
