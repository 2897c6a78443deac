import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import SightlineCore
import SightlineQuery

/// The PromQL endpoints of the Prometheus HTTP API: `/api/v1/query`, `/api/v1/query_range`, `/api/v1/format_query`
/// and `/api/v1/query_exemplars`. Parameters are checked in Prometheus' order, so the first error reported is the
/// one Prometheus would report.
enum PrometheusAPIQueryHandler {
    /// Prometheus' cap on points per series of a range query.
    static let maxPointsPerSeries: Int64 = 11_000

    /// `/api/v1/query`: `query`, `time` (default now), `timeout`, `limit`, `lookback_delta`.
    static func query(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = try await PrometheusAPIParameters.read(request)
        let limit = try parameters.limit()
        let timeMs = try parameters.time("time", default: nowMs())
        let options = try engineOptions(parameters, api: api)
        let query = parameters["query"]
        let engine = PromQLEngine(querier: api.samples, options: options)
        let result = try await run { try engine.instantQuery(query, tenant: identity.tenant, timeMs: timeMs) }
        return respond(result, limit: limit)
    }

    /// `/api/v1/query_range`: `query`, `start`, `end`, `step`, `timeout`, `limit`, `lookback_delta`.
    static func queryRange(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = try await PrometheusAPIParameters.read(request)
        let limit = try parameters.limit()
        let startMs = try parameters.requiredTime("start")
        let endMs = try parameters.requiredTime("end")
        guard endMs >= startMs else {
            throw PrometheusAPIError.invalidParameter("end", "end timestamp must not be before start time")
        }
        let stepMs = try parameters.duration("step")
        guard stepMs > 0 else {
            throw PrometheusAPIError.invalidParameter(
                "step", "zero or negative query resolution step widths are not accepted. Try a positive integer")
        }
        let (span, overflow) = endMs.subtractingReportingOverflow(startMs)
        guard !overflow, span / stepMs <= maxPointsPerSeries else {
            throw PrometheusAPIError(
                .badData, "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
        }
        let options = try engineOptions(parameters, api: api)
        let query = parameters["query"]
        let engine = PromQLEngine(querier: api.samples, options: options)
        let result = try await run {
            try engine.rangeQuery(query, tenant: identity.tenant, startMs: startMs, endMs: endMs, stepMs: stepMs)
        }
        return respond(result, limit: limit)
    }

    /// `/api/v1/format_query`: the query in canonical form, as the parser prints it.
    static func formatQuery(_ request: Request, api: APIDependencies) async throws -> Response {
        _ = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = try await PrometheusAPIParameters.read(request)
        let expression: Expr
        do {
            expression = try PromQLParser.parse(parameters["query"], options: api.promQLFeatures)
        } catch let error as SightlineError {
            throw PrometheusAPIError.invalidParameter("query", error.message)
        }
        return PrometheusAPIJSON.success(data: JSONText.quoted(expression.description))
    }

    /// `/api/v1/query_exemplars`: the exemplars in `[start, end]` of the series any selector of `query` matches, per
    /// series, in Prometheus' shape (`seriesLabels`, then `exemplars` with `labels`, `value` as a string and
    /// `timestamp` in seconds). A store that keeps no exemplars answers an empty list, as Prometheus does without
    /// exemplar storage.
    static func queryExemplars(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = try await PrometheusAPIParameters.read(request)
        let startMs = try parameters.time("start", default: PrometheusAPITime.minMs)
        let endMs = try parameters.time("end", default: PrometheusAPITime.maxMs)
        guard endMs >= startMs else {
            throw PrometheusAPIError(.badData, "end timestamp must not be before start timestamp")
        }
        let expression: Expr
        do {
            expression = try PromQLParser.parse(parameters["query"], options: api.promQLFeatures)
        } catch let error as SightlineError {
            throw PrometheusAPIError(.badData, error.message)
        }
        let selectors = expression.selectors
        // A query without selectors gets Prometheus' answer: 204 and no body.
        guard !selectors.isEmpty else { return Response(status: .noContent) }
        guard let querier = api.samples as? any ExemplarQuerier else { return PrometheusAPIJSON.success(data: "[]") }
        let found = try await LokiQueryAPI.run { try querier.exemplars(tenant: identity.tenant, selectors: selectors, startMs: startMs, endMs: endMs) }
        var out: [UInt8] = [UInt8(ascii: "[")]
        func append(_ text: String) { out.append(contentsOf: text.utf8) }
        for (index, series) in found.enumerated() {
            var labels = index > 0 ? ",{\"seriesLabels\":" : "{\"seriesLabels\":"
            JSONText.appendLabels(series.series, to: &labels)
            append(labels + ",\"exemplars\":[")
            for (position, exemplar) in series.exemplars.enumerated() {
                var own = position > 0 ? ",{\"labels\":" : "{\"labels\":"
                JSONText.appendLabels(exemplar.labels, to: &own)
                append(own + ",\"value\":\"" + PromQLFloat.formatAPI(exemplar.value) + "\",\"timestamp\":")
                PrometheusAPITime.appendJSON(exemplar.timestampMs, to: &out)
                append("}")
            }
            append("]}")
        }
        append("]")
        return PrometheusAPIJSON.success(data: String(decoding: out, as: UTF8.self))
    }

    // MARK: - Helpers

    /// Milliseconds since the epoch, now.
    static func nowMs() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    /// The engine options for `timeout` and `lookback_delta`. A `timeout` can only shorten the engine's own limit.
    static func engineOptions(_ parameters: PrometheusAPIParameters, api: APIDependencies) throws -> PromQLEngine.Options {
        var options = PromQLEngine.Options()
        options.parserOptions = api.promQLFeatures
        if !parameters["timeout"].isEmpty {
            let timeoutMs = try parameters.duration("timeout")
            options.timeout = min(options.timeout, .milliseconds(max(0, timeoutMs)))
        }
        let lookback = parameters["lookback_delta"]
        if !lookback.isEmpty {
            do {
                let milliseconds = try PrometheusAPIParameters.parseDuration(lookback)
                if milliseconds > 0 { options.lookbackDeltaMs = milliseconds }
            } catch let error as SightlineError {
                throw PrometheusAPIError(.badData, "error parsing lookback delta duration: \(error.message)")
            }
        }
        return options
    }

    /// Runs an evaluation on NIO's blocking thread pool, off the event loops and the cooperative pool, and turns its
    /// failure into the API error.
    static func run(_ body: @escaping @Sendable () throws -> PromQLResult) async throws -> PromQLResult {
        do {
            return try await NIOThreadPool.singleton.runIfActive { try body() }
        } catch let error as PromQLError {
            throw PrometheusAPIError(error)
        } catch is CancellationError {
            throw PrometheusAPIError(.canceled, "query was canceled")
        } catch let error as PrometheusAPIError {
            throw error
        } catch {
            throw PrometheusAPIError(.unavailable, "the query thread pool is not running: \(error)")
        }
    }

    /// The success response, truncated to `limit` series (0: no limit) with Prometheus' warning when it cut.
    static func respond(_ result: PromQLResult, limit: Int) -> Response {
        var value = result.value
        var warnings = result.warnings
        if limit > 0 {
            switch value {
            case .vector(let samples) where samples.count > limit:
                value = .vector(Array(samples.prefix(limit)))
                warnings.append("results truncated due to limit")
            case .matrix(let series) where series.count > limit:
                value = .matrix(Array(series.prefix(limit)))
                warnings.append("results truncated due to limit")
            default: break
            }
        }
        return PrometheusAPIJSON.success(data: PrometheusAPIJSON.queryData(value), warnings: warnings, infos: result.infos)
    }
}
