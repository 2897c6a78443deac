import HTTPTypes
package import Hummingbird
import Logging
import NIOCore
package import SightlineCore
package import SightlineQuery
package import SightlineTSDB
package import SightlineAuditStore
package import SightlineIngest
package import SightlineScrape

/// What the HTTP and gRPC handlers share.
package struct APIDependencies: Sendable {
    package var pipeline: IngestPipeline
    package var authenticator: Authenticator
    package var limits: IngestLimits
    package var metrics: ServerMetrics
    package var logs: any LogQuerier & LogSource
    package var spans: any TraceSource
    package var samples: any MetricQuerier
    /// The embedded metrics engine, for its statistics; nil when metrics live elsewhere.
    package var tsdb: TSDB?
    /// Where `/api/v1/admin/tsdb/snapshot` writes snapshots (`<data directory>/snapshots`); nil refuses them.
    package var snapshotsDirectory: String?
    /// Sightline's own tracer, when it traces the requests it serves.
    package var selfTracer: SelfTracer?
    /// Whether ingestion requests get spans too.
    package var selfTracingIngest = false
    /// The rule evaluator and notifier; nil makes the alerting routes answer 503.
    package var alerting: AlertingRuntime?
    /// The audit store (embedded files or ClickHouse, as the storage backend); nil makes the audit routes answer 503.
    package var audit: (any AuditBackend)?
    /// The web UI's files; nil serves no UI.
    package var ui: WebUIAssets?
    /// The PromQL features queries may use (Prometheus' feature flags).
    package var promQLFeatures: PromQLParser.Options = .default
    /// How OTLP resources reach the series of their metrics (the `otlp` section).
    package var otlpTranslation = OTLPDecoder.OTLPTranslation()
    /// How long logs are kept by default (`logs.retention`), as Loki's API reports it; nil keeps them.
    package var logRetention: Duration?
    /// The running totals of OTLP metrics sent with delta temporality, seeded from `samples` after a restart.
    package var otlpDeltas: OTLPDeltaAccumulator
    /// The scrape targets and their health (`/api/v1/targets`); nil answers no targets.
    package var scrapeTargets: ScrapeTargetStatus?

    package init(
        pipeline: IngestPipeline, authenticator: Authenticator, limits: IngestLimits, metrics: ServerMetrics,
        logs: any LogQuerier & LogSource, spans: any TraceSource, samples: any MetricQuerier, tsdb: TSDB? = nil
    ) {
        self.tsdb = tsdb
        self.pipeline = pipeline
        self.authenticator = authenticator
        self.limits = limits
        self.metrics = metrics
        self.logs = logs
        self.spans = spans
        self.samples = samples
        self.otlpDeltas = OTLPDeltaAccumulator(seed: Self.newestSample(in: samples))
    }

    /// Reads the newest sample of exactly the series `labels` (not a series with more labels) in a time range.
    static func newestSample(in samples: any MetricQuerier) -> OTLPDeltaAccumulator.Seed {
        { tenant, labels, startMs, endMs in
            let matchers = labels.labels.compactMap { try? LabelMatcher($0.name, .equal, $0.value) }
            guard matchers.count == labels.labels.count,
                let series = try? samples.select(tenant: Tenant(uncheckedID: tenant), matchers: matchers, startMs: startMs, endMs: endMs),
                let exact = series.first(where: { $0.labels == labels }),
                let timestampMs = exact.timestampsMs.last, let value = exact.values.last
            else { return nil }
            return (timestampMs, value)
        }
    }
}

/// Builds the HTTP routes of `sightline server`.
package enum HTTPAPI {
    /// The router with every route.
    package static func router(_ api: APIDependencies) -> Router<SightlineRequestContext> {
        let router = Router(context: SightlineRequestContext.self)
        if let tracer = api.selfTracer {
            router.add(middleware: SelfTracingMiddleware<SightlineRequestContext>(tracer: tracer, tracesIngest: api.selfTracingIngest))
        }
        router.get("/") { request, _ -> Response in
            if let ui = api.ui, WebUI.wantsHTML(request) {
                return ui.response(path: "index.html", ifNoneMatch: request.headers[.ifNoneMatch])
            }
            return ElasticsearchHandler.clusterProbe(request, api: api)
        }
        if let ui = api.ui {
            WebUI.addRoutes(to: router, assets: ui)
        }
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
            for path in OTLPHTTPHandler.paths(of: signal) {
                router.post(RouterPath(path)) { request, context in
                    try await OTLPHTTPHandler.handle(signal, request: request, context: context, api: api)
                }
            }
        }
        router.post("/api/v1/write") { request, _ in
            try await PrometheusWriteHandler.remoteWrite(request: request, api: api)
        }
        router.post("/api/v1/read") { request, _ in
            try await PrometheusReadHandler.handle(request: request, api: api)
        }
        for path in InfluxWriteHandler.writePaths {
            router.post(RouterPath(path)) { request, _ in try await InfluxWriteHandler.write(request, api: api) }
        }
        for path in InfluxWriteHandler.pingPaths {
            router.get(RouterPath(path)) { _, _ in InfluxWriteHandler.ping() }
            router.head(RouterPath(path)) { _, _ in InfluxWriteHandler.ping() }
        }
        router.post("/datadog/api/v1/series") { request, _ in try await DatadogHandler.series(request, payload: .seriesV1, api: api) }
        router.post("/datadog/api/v2/series") { request, _ in try await DatadogHandler.series(request, payload: .seriesV2, api: api) }
        router.post("/datadog/api/v1/distribution_points") { request, _ in
            try await DatadogHandler.series(request, payload: .distributionPoints, api: api)
        }
        router.post("/datadog/api/beta/sketches") { request, _ in try await DatadogHandler.series(request, payload: .sketches, api: api) }
        router.get("/datadog/api/v1/validate") { request, _ in try DatadogHandler.validate(request, api: api) }
        for path in DatadogHandler.ignoredPaths {
            router.post(RouterPath(path)) { request, _ in try DatadogHandler.ignored(request, api: api) }
        }
        router.get("/api/v1/targets") { request, _ in
            try await PrometheusTargetsHandler.handle(request, api: api)
        }
        router.get("/federate") { request, _ in
            try await PrometheusFederateHandler.handle(request, api: api)
        }
        router.post("/api/v1/import") { request, _ in try await VictoriaJSONHandler.import(request, api: api) }
        router.post("/api/put") { request, _ in try await OpenTSDBHandler.put(request, api: api) }
        router.get("/api/v1/export") { request, _ in try await VictoriaJSONHandler.export(request, api: api) }
        router.post("/api/v1/export") { request, _ in try await VictoriaJSONHandler.export(request, api: api) }
        router.post("/api/v1/import/prometheus") { request, _ in
            try await PrometheusWriteHandler.importText(request: request, api: api)
        }
        router.get("/api/v1/status/tsdb") { request, _ in
            try TSDBStatusHandler.handle(request, api: api)
        }
        router.get("/api/v1/debug/records") { request, _ in
            try DebugRecordsHandler.handle(request, api: api)
        }
        PrometheusAPI.addRoutes(to: router, api: api)
        PrometheusAdminHandler.addRoutes(to: router, api: api)
        GraphiteAPI.addRoutes(to: router, api: api)
        LokiPushHandler.addRoutes(to: router, api: api)
        LokiQueryAPI.addRoutes(to: router, api: api)
        LokiDeleteAPI.addRoutes(to: router, api: api)
        LokiTailHandler.addRoutes(to: router, api: api)
        ElasticsearchHandler.addRoutes(to: router, api: api)
        registerJaegerRoutes(to: router, api: api, traces: api.spans)
        registerTempoRoutes(to: router, api: api, traces: api.spans)
        registerZipkinRoutes(to: router, api: api)
        AlertingAPI.addRoutes(to: router, api: api)
        AuditAPI.addRoutes(to: router, api: api)
        return router
    }
}
