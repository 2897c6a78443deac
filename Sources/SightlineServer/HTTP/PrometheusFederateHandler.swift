import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import SightlineCore
import SightlineIngest

/// `GET /federate?match[]=…`: the newest sample of every series of the caller's tenant that one of the selectors
/// matches, in the text exposition format, for another Prometheus to scrape (federation, with `honor_labels: true`).
///
/// As Prometheus answers it: a series counts when its newest sample is within the 5-minute lookback and is not a
/// staleness marker; every metric name is its own `untyped` family; samples carry their timestamps; no selector
/// gives an empty answer, a bad one a 400.
enum PrometheusFederateHandler {
    /// How far back a series' newest sample may be.
    static let lookbackMs: Int64 = 300_000

    static func handle(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = try await PrometheusAPIParameters.read(request)
        let matcherSets = try parameters.matcherSets(wrapped: true)
        let samples = api.samples
        let tenant = identity.tenant
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        let text = try await NIOThreadPool.singleton.runIfActive { () throws -> String in
            let sorted = try RawSeriesRead.union(samples, tenant: tenant, matcherSets: matcherSets, startMs: nowMs - lookbackMs, endMs: nowMs)
                .compactMap { series -> MetricSample? in
                    guard let time = series.timestampsMs.last, let value = series.values.last, !StaleNaN.isStale(value) else { return nil }
                    return MetricSample(labels: series.labels, timestampMs: time, value: value)
                }
            var names: [String] = []
            for sample in sorted where names.last != sample.labels.metricName { names.append(sample.labels.metricName) }
            return PrometheusTextEncoder.encode(sorted, metadata: names.map { MetricMetadata(metricFamily: $0, kind: .unknown) })
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
