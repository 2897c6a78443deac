import Hummingbird
import SightlineCore
import SightlineQuery
import SightlineScrape

/// `GET /api/v1/targets`: the scrape targets of the caller's tenant, in Prometheus' shape — the active ones with
/// their labels before and after relabeling, scrape URL, health, last error, last scrape and its duration, interval
/// and timeout; and those relabeling dropped, with their labels before it. `state=active|dropped|any` and
/// `scrapePool=<job>` narrow the answer, as in Prometheus.
enum PrometheusTargetsHandler {
    static func handle(_ request: Request, api: APIDependencies) async throws -> Response {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let parameters = try await PrometheusAPIParameters.read(request)
        let state = parameters["state"].lowercased()
        guard ["", "any", "active", "dropped"].contains(state) else {
            throw PrometheusAPIError(.badData, "invalid state \"\(parameters["state"])\": use active, dropped or any")
        }
        let pool = parameters["scrapePool"]
        let active = state == "dropped" ? [] : (api.scrapeTargets?.active(tenant: identity.tenant) ?? [])
            .filter { pool.isEmpty || $0.target.config.jobName == pool }
        let dropped = state == "active" ? [] : (api.scrapeTargets?.dropped(tenant: identity.tenant) ?? [])
            .filter { pool.isEmpty || $0.config.jobName == pool }

        var data = "{\"activeTargets\":["
        for (index, entry) in active.enumerated() {
            if index > 0 { data += "," }
            let target = entry.target
            data += "{\"discoveredLabels\":"
            JSONText.appendLabels(target.discoveredLabels, to: &data)
            data += ",\"labels\":"
            JSONText.appendLabels(target.labels, to: &data)
            data += ",\"scrapePool\":" + JSONText.quoted(target.config.jobName)
            data += ",\"scrapeUrl\":" + JSONText.quoted(target.url)
            data += ",\"globalUrl\":" + JSONText.quoted(target.url)
            data += ",\"lastError\":" + JSONText.quoted(entry.lastError)
            // Go's zero time, as Prometheus shows a target not scraped yet.
            data += ",\"lastScrape\":" + JSONText.quoted(entry.lastScrapeMs.map(PrometheusAPITime.rfc3339) ?? "0001-01-01T00:00:00Z")
            data += ",\"lastScrapeDuration\":" + JSONText.number(entry.lastScrapeDurationSeconds)
            data += ",\"health\":" + JSONText.quoted(entry.health.rawValue)
            data += ",\"scrapeInterval\":" + JSONText.quoted(ScrapeDuration.format(target.interval))
            data += ",\"scrapeTimeout\":" + JSONText.quoted(ScrapeDuration.format(target.timeout)) + "}"
        }
        data += "],\"droppedTargets\":["
        var droppedCounts: [String: Int] = [:]
        for (index, entry) in dropped.enumerated() {
            if index > 0 { data += "," }
            data += "{\"discoveredLabels\":"
            JSONText.appendLabels(entry.discoveredLabels, to: &data)
            data += ",\"scrapePool\":" + JSONText.quoted(entry.config.jobName) + "}"
            droppedCounts[entry.config.jobName, default: 0] += 1
        }
        data += "],\"droppedTargetCounts\":{"
        for (index, (job, count)) in droppedCounts.sorted(by: { $0.key < $1.key }).enumerated() {
            data += (index > 0 ? "," : "") + JSONText.quoted(job) + ":\(count)"
        }
        data += "}}"
        return PrometheusAPIJSON.success(data: data)
    }
}
