import Foundation
import HTTPTypes
import Hummingbird
import SightlineCore
import SightlineQuery
import SightlineTSDB

/// The TSDB admin endpoints of the Prometheus HTTP API that change stored data, for the caller's tenant. They need
/// the `admin` role (every caller has it when no tokens are configured, as with VictoriaMetrics' delete API; Prometheus
/// guards them with `--web.enable-admin-api` instead).
///
/// | Route | Methods | |
/// |---|---|---|
/// | `/api/v1/admin/tsdb/delete_series` | POST, PUT | deletes the samples of the series matching `match[]` in `start`…`end` |
/// | `/api/v1/admin/tsdb/clean_tombstones` | POST, PUT | nothing to do: a deletion leaves no tombstones |
/// | `/api/v1/admin/tsdb/snapshot` | POST, PUT | a snapshot of the tenant's metrics under `<data>/snapshots/<name>` |
///
/// A deletion goes through the WAL in order with the writes around it (see ``IngestPipeline/delete(_:tenant:)``), or,
/// on ClickHouse, runs there as a mutation after a checkpoint: once the answer (204) is sent, queries no longer see the
/// samples, and the blocks on disk (the ClickHouse parts) no longer hold them.
enum PrometheusAdminHandler {
    static func addRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies) {
        for method in [HTTPRequest.Method.post, .put] {
            router.on("/api/v1/admin/tsdb/delete_series", method: method) { request, _ in try await deleteSeries(request, api: api) }
            router.on("/api/v1/admin/tsdb/clean_tombstones", method: method) { request, _ in try cleanTombstones(request, api: api) }
            router.on("/api/v1/admin/tsdb/snapshot", method: method) { request, _ in try await snapshot(request, api: api) }
        }
    }

    /// `match[]` (one or more, required), `start` and `end` (optional: all time); 204 once the samples are gone.
    static func deleteSeries(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .admin)
        let parameters = try await PrometheusAPIParameters.read(request)
        guard !parameters.values("match[]").isEmpty else {
            throw PrometheusAPIError(.badData, "no match[] parameter provided")
        }
        let startMs = try parameters.time("start", default: .min)
        let endMs = try parameters.time("end", default: .max)
        let deletions = try parameters.matcherSets(wrapped: false).map { SeriesDeletion(matchers: $0, startMs: startMs, endMs: endMs) }
        do {
            try await api.pipeline.delete(.metrics(MetricBatch(deletions: deletions)), tenant: identity.tenant)
        } catch {
            throw PrometheusAPIError(storage: error)
        }
        return Response(status: .noContent)
    }

    /// `skip_head` (a Go boolean, default false); `{"status":"success","data":{"name":"<name>"}}` once the snapshot
    /// is on disk: the tenant's blocks hard-linked and, without `skip_head`, its head written as a block, in a
    /// directory the engine opens as its own (``TSDB/snapshot(tenant:into:skipHead:)``), named as Prometheus names them.
    static func snapshot(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .admin)
        let parameters = try await PrometheusAPIParameters.read(request)
        var skipHead = false
        if !parameters["skip_head"].isEmpty {
            guard let value = GoText.parseBool(parameters["skip_head"]) else {
                throw PrometheusAPIError(
                    .badData, "unable to parse boolean 'skip_head' argument: strconv.ParseBool: parsing \(GoText.quote(parameters["skip_head"])): invalid syntax")
            }
            skipHead = value
        }
        guard let tsdb = api.tsdb, let root = api.snapshotsDirectory else {
            throw PrometheusAPIError(.unavailable, "snapshots need the embedded metrics engine; this server keeps metrics in ClickHouse")
        }
        let name = snapshotName(nowMs: Int64(Date().timeIntervalSince1970 * 1000))
        let withoutHead = skipHead
        do {
            _ = try await LokiQueryAPI.run { try tsdb.snapshot(tenant: identity.tenant, into: root + "/" + name, skipHead: withoutHead) }
        } catch {
            throw PrometheusAPIError(.execution, "create snapshot: \(error)")
        }
        return PrometheusAPIJSON.success(data: "{\"name\":" + JSONText.quoted(name) + "}")
    }

    /// `20060102T150405Z-<hex>`, as Prometheus names snapshots: the UTC time in Go's layout `20060102T150405Z0700`
    /// and a random number.
    static func snapshotName(nowMs: Int64) -> String {
        GoTime.format(nowMs * 1_000_000, layout: "20060102T150405Z0700") + "-" + String(UInt64.random(in: 1...UInt64(Int64.max)), radix: 16)
    }

    /// 204 at once: a deletion writes the blocks again without the deleted samples, so there are no tombstones to clean.
    static func cleanTombstones(_ request: Request, api: APIDependencies) throws -> Response {
        _ = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .admin)
        return Response(status: .noContent)
    }
}
