import HTTPTypes
package import Hummingbird
import Logging
import NIOCore
package import SightlineCore
import SightlineIngest

/// What the HTTP and gRPC handlers share.
package struct APIDependencies: Sendable {
    package var pipeline: IngestPipeline
    package var authenticator: Authenticator
    package var limits: IngestLimits
    package var metrics: ServerMetrics
    package var logs: any LogQuerier
    package var spans: any SpanQuerier
    package var samples: any MetricQuerier

    package init(
        pipeline: IngestPipeline, authenticator: Authenticator, limits: IngestLimits, metrics: ServerMetrics,
        logs: any LogQuerier, spans: any SpanQuerier, samples: any MetricQuerier
    ) {
        self.pipeline = pipeline
        self.authenticator = authenticator
        self.limits = limits
        self.metrics = metrics
        self.logs = logs
        self.spans = spans
        self.samples = samples
    }
}

/// Builds the HTTP routes of `sightline server`.
package enum HTTPAPI {
    /// The router with every route.
    package static func router(_ api: APIDependencies) -> Router<SightlineRequestContext> {
        let router = Router(context: SightlineRequestContext.self)
        router.get("/-/healthy") { _, _ in "Sightline is Healthy.\n" }
        router.get("/-/ready") { _, _ -> Response in
            guard api.pipeline.isReady else {
                return Response(status: .serviceUnavailable, body: ResponseBody(byteBuffer: ByteBuffer(string: "Sightline is not ready: WAL replay is running.\n")))
            }
            return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "Sightline is Ready.\n")))
        }
        router.get("/metrics") { request, _ -> Response in
            _ = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .admin)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: api.metrics.render()))
            )
        }
        for signal in Signal.allCases {
            router.post("/v1/\(signal.description)") { request, context in
                try await OTLPHTTPHandler.handle(signal, request: request, context: context, api: api)
            }
        }
        router.get("/api/v1/debug/records") { request, _ in
            try DebugRecordsHandler.handle(request, api: api)
        }
        return router
    }
}
