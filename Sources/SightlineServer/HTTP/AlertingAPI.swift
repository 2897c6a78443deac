import HTTPTypes
package import Hummingbird
import NIOCore
import SightlineAlerting
import SightlineCore

/// The alerting routes: Prometheus' rules and alerts, Alertmanager's v2 API, and the reload.
///
/// | Route | Methods | Role | |
/// |---|---|---|---|
/// | `/api/v1/rules` | GET, POST | query | rule groups with health and alerts (`type`, `rule_name[]`, `rule_group[]`, `file[]`, `exclude_alerts`, `match[]`) |
/// | `/api/v1/alerts` | GET, POST | query | pending and firing alerts |
/// | `/prometheus/api/v1/rules`, `/prometheus/api/v1/alerts` | GET, POST | query | the same of LogQL groups only, as Loki's ruler answers a Loki data source |
/// | `/api/v2/alerts` | GET / POST | query / ingest | Alertmanager alerts; POST is how an external Prometheus sends its alerts |
/// | `/api/v2/alerts/groups` | GET | query | alerts as the routing tree groups them |
/// | `/api/v2/silences` | GET / POST | query / query or admin | silences; POST creates or updates one |
/// | `/api/v2/silence/<id>` | GET / DELETE | query / query or admin | one silence; DELETE expires it |
/// | `/api/v2/status`, `/api/v2/receivers` | GET | query | the notifier's configuration and receivers |
/// | `/-/reload` | POST, PUT | admin | reads the rule files and the Alertmanager config again |
///
/// Everything but the reload and `/api/v2/status` and `/api/v2/receivers` (which show the shared configuration) sees the
/// caller's tenant only. Bodies and errors are Prometheus' (`/api/v1`) and Alertmanager's (`/api/v2`) own, built by
/// ``RulesAPI`` and ``AlertmanagerAPI``.
package enum AlertingAPI {
    /// Adds the routes to `router`.
    package static func addRoutes(to router: Router<SightlineRequestContext>, api: APIDependencies) {
        for method in [HTTPRequest.Method.get, .post] {
            router.on("/api/v1/rules", method: method) { request, _ in try await rules(request, api: api) }
            router.on("/api/v1/alerts", method: method) { request, _ in try await alerts(request, api: api) }
            router.on("/prometheus/api/v1/rules", method: method) { request, _ in try await rules(request, language: .logql, api: api) }
            router.on("/prometheus/api/v1/alerts", method: method) { request, _ in try await alerts(request, language: .logql, api: api) }
        }
        for method in [HTTPRequest.Method.post, .put] {
            router.on("/-/reload", method: method) { request, _ in try await reload(request, api: api) }
        }
        let v2: [(String, HTTPRequest.Method, Role)] = [
            ("/alerts", .get, .query), ("/alerts", .post, .ingest), ("/alerts/groups", .get, .query),
            ("/silences", .get, .query), ("/silences", .post, .query), ("/status", .get, .query), ("/receivers", .get, .query),
        ]
        for (path, method, role) in v2 {
            router.on("/api/v2\(path)", method: method) { request, _ in
                try await alertmanager(request, path: path, role: role, api: api)
            }
        }
        for (method, role) in [(HTTPRequest.Method.get, Role.query), (.delete, .query)] {
            router.on("/api/v2/silence/:id", method: method) { request, context in
                try await alertmanager(request, path: "/silence/" + (context.parameters.get("id") ?? ""), role: role, api: api)
            }
        }
    }

    private static func runtime(_ api: APIDependencies) throws -> AlertingRuntime {
        guard let alerting = api.alerting else { throw SightlineError(.unavailable, "alerting is not running in this server") }
        return alerting
    }

    /// `/api/v1/rules`; with a `language`, only the groups written in it.
    static func rules(_ request: Request, language: RuleQueryLanguage? = nil, api: APIDependencies) async throws -> Response {
        let groups = try await groups(request, language: language, api: api)
        let parameters = try await PrometheusAPIParameters.read(request)
        let filter = try RulesAPI.Filter(
            type: parameters.values("type").first, ruleNames: parameters.values("rule_name[]"), ruleGroups: parameters.values("rule_group[]"),
            files: parameters.values("file[]"), excludeAlerts: parameters.values("exclude_alerts").first, match: parameters.values("match[]"))
        return json(RulesAPI.rulesJSON(groups, filter: filter))
    }

    /// `/api/v1/alerts`; with a `language`, only the alerts of groups written in it.
    static func alerts(_ request: Request, language: RuleQueryLanguage? = nil, api: APIDependencies) async throws -> Response {
        json(RulesAPI.alertsJSON(try await groups(request, language: language, api: api)))
    }

    /// The caller's rule groups, those written in `language` when one is given.
    private static func groups(_ request: Request, language: RuleQueryLanguage?, api: APIDependencies) async throws -> [RuleGroupStatus] {
        let identity = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .query)
        let groups = try await runtime(api).rules.status(tenant: identity.tenant)
        return language.map { language in groups.filter { $0.language == language } } ?? groups
    }

    /// `POST /-/reload`: 200 when both the rule files and the Alertmanager config were applied; otherwise 400 with
    /// every problem (the parts that were valid are applied).
    static func reload(_ request: Request, api: APIDependencies) async throws -> Response {
        _ = try api.authenticator.identify(authorization: request.headers[.authorization], requiring: .admin)
        try await runtime(api).reload()
        return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "Reloaded.\n")))
    }

    /// An Alertmanager v2 route; `path` is the part after `/api/v2`. Silence writes take the query or the admin role.
    static func alertmanager(_ request: Request, path: String, role: Role, api: APIDependencies) async throws -> Response {
        let authorization = request.headers[.authorization]
        let identity: Identity
        let isSilenceWrite = request.method != .get && path != "/alerts"
        do {
            identity = try api.authenticator.identify(authorization: authorization, requiring: role)
        } catch let error as SightlineError where error.code == .permissionDenied && isSilenceWrite {
            identity = try api.authenticator.identify(authorization: authorization, requiring: .admin)
        }
        let alerting = try runtime(api)
        var request = request
        let body = request.method == .get ? ByteBuffer() : try await request.collectBody(upTo: api.limits.maxBodyBytes)
        let query = PrometheusAPIParameters.decodeForm(request.uri.query ?? "").map { ($0.name, $0.value) }
        let answer = await alerting.alertmanagerAPI.handle(
            method: request.method.rawValue, path: path, query: query, body: Array(buffer: body), tenant: identity.tenant)
        return Response(
            status: HTTPResponse.Status(code: answer.status), headers: [.contentType: answer.contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(string: answer.body)))
    }

    private static func json(_ body: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
