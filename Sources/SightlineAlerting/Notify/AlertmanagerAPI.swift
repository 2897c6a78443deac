import Foundation
package import SightlineCore

/// An HTTP answer of the Alertmanager API, for the server to write as it is.
package struct AlertmanagerAPIResponse: Sendable, Equatable {
    package var status: Int
    package var contentType: String
    package var body: String

    static func json(_ body: String, status: Int = 200) -> AlertmanagerAPIResponse {
        AlertmanagerAPIResponse(status: status, contentType: "application/json", body: body)
    }

    /// Alertmanager's error answers are a JSON string with the message.
    static func error(_ status: Int, _ message: String) -> AlertmanagerAPIResponse {
        json(JSONText.quoted(message), status: status)
    }
}

/// Alertmanager's v2 API over a ``Notifier``, as plain request → response functions (the server mounts them under
/// `/api/v2/`): JSON shapes, query parameters and error messages as Alertmanager 0.25 has them, so amtool, Grafana
/// and an external Prometheus (`alerting.alertmanagers`) can talk to Sightline.
package struct AlertmanagerAPI: Sendable {
    package let notifier: Notifier

    package init(notifier: Notifier) { self.notifier = notifier }

    /// Routes a request: `path` is the part after `/api/v2` (e.g. `/alerts`, `/silence/<id>`); `query` the decoded
    /// query parameters in order (a name may repeat, as `filter` does).
    package func handle(method: String, path: String, query: [(String, String)], body: [UInt8], tenant: Tenant) async -> AlertmanagerAPIResponse {
        switch (method.uppercased(), path) {
        case ("GET", "/alerts"): return await getAlerts(query: query, tenant: tenant)
        case ("POST", "/alerts"): return await postAlerts(body: body, tenant: tenant)
        case ("GET", "/alerts/groups"): return await getAlertGroups(query: query, tenant: tenant)
        case ("GET", "/silences"): return await getSilences(query: query, tenant: tenant)
        case ("POST", "/silences"): return await postSilences(body: body, tenant: tenant)
        case ("GET", "/status"): return await getStatus()
        case ("GET", "/receivers"): return await getReceivers()
        default:
            if path.hasPrefix("/silence/") {
                let id = String(path.dropFirst("/silence/".count))
                switch method.uppercased() {
                case "GET": return await getSilence(id: id, tenant: tenant)
                case "DELETE": return await deleteSilence(id: id, tenant: tenant)
                default: return .error(405, "method \(method) not allowed for \(path)")
                }
            }
            return .error(404, "path /api/v2\(path) not found")
        }
    }

    // MARK: Alerts

    /// Which alerts a GET wants: Alertmanager's `active`, `silenced`, `inhibited`, `filter` and `receiver`.
    private struct AlertFilter {
        var active = true
        var silenced = true
        var inhibited = true
        var matchers: [LabelMatcher] = []
        var receiver: LabelMatcher?

        init(_ query: [(String, String)]) throws {
            for (name, value) in query {
                switch name {
                case "active": active = try Self.bool(value, name)
                case "silenced": silenced = try Self.bool(value, name)
                case "inhibited": inhibited = try Self.bool(value, name)
                case "unprocessed": _ = try Self.bool(value, name)
                case "filter":
                    do { matchers += try MatcherText.parseList(value) } catch let error as SightlineError {
                        throw SightlineError(.invalidArgument, "bad matcher format: \(value): \(error.message)")
                    }
                case "receiver":
                    do { receiver = try LabelMatcher("receiver", .regexMatch, value) } catch {
                        throw SightlineError(.invalidArgument, "failed to parse receiver param: \(value)")
                    }
                default: continue
                }
            }
        }

        static func bool(_ value: String, _ name: String) throws -> Bool {
            switch value.lowercased() {
            case "true", "1": return true
            case "false", "0": return false
            default: throw SightlineError(.invalidArgument, "\(name) in query must be of type boolean: \"\(value)\"")
            }
        }
    }

    /// `GET /api/v2/alerts`: the tenant's alerts that are not resolved, with receivers and status, by fingerprint.
    package func getAlerts(query: [(String, String)], tenant: Tenant) async -> AlertmanagerAPIResponse {
        let filter: AlertFilter
        do { filter = try AlertFilter(query) } catch { return .error(400, Self.message(error)) }
        let dispatcher = await notifier.dispatcher(tenant)
        let config = await notifier.config
        let now = await notifier.now()
        let alerts = dispatcher.alerts.values.sorted { $0.fingerprint < $1.fingerprint }
        let index = dispatcher.inhibitionIndex(config: config, nowMs: now)
        let rendered = alerts.compactMap { Self.gettable($0, filter: filter, dispatcher: dispatcher, index: index, config: config, nowMs: now) }
        return .json("[" + rendered.joined(separator: ",") + "]")
    }

    /// `GET /api/v2/alerts/groups`: the aggregation groups with their alerts.
    package func getAlertGroups(query: [(String, String)], tenant: Tenant) async -> AlertmanagerAPIResponse {
        let filter: AlertFilter
        do { filter = try AlertFilter(query) } catch { return .error(400, Self.message(error)) }
        let dispatcher = await notifier.dispatcher(tenant)
        let config = await notifier.config
        let now = await notifier.now()
        let routes = Dictionary(uniqueKeysWithValues: config.route.all.map { ($0.index, $0) })
        let index = dispatcher.inhibitionIndex(config: config, nowMs: now)
        var groups: [(Labels, String, String)] = []
        for group in dispatcher.groups.values {
            guard let route = routes[group.routeIndex] else { continue }
            if let receiver = filter.receiver, !receiver.matches(route.receiver) { continue }
            let alerts = group.alerts.values.sorted { $0.fingerprint < $1.fingerprint }
                .compactMap { Self.gettable($0, filter: filter, dispatcher: dispatcher, index: index, config: config, nowMs: now) }
            guard !alerts.isEmpty else { continue }
            var out = "{\"alerts\":[" + alerts.joined(separator: ",") + "],\"labels\":"
            JSONText.appendLabels(group.groupLabels, to: &out)
            out += ",\"receiver\":{\"name\":" + JSONText.quoted(route.receiver) + "}}"
            groups.append((group.groupLabels, route.receiver, out))
        }
        groups.sort { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
        return .json("[" + groups.map(\.2).joined(separator: ",") + "]")
    }

    /// One alert as Alertmanager's `gettableAlert`, or nil when the filter drops it.
    private static func gettable(
        _ alert: StoredAlert, filter: AlertFilter, dispatcher: TenantDispatcher, index: InhibitionIndex, config: NotifyConfig, nowMs: Int64
    ) -> String? {
        guard !alert.isResolved(atMs: nowMs) else { return nil }
        guard LabelMatcher.notifyAll(filter.matchers, match: alert.labels) else { return nil }
        var receivers: [String] = []
        for route in config.route.match(alert.labels) where !receivers.contains(route.receiver) { receivers.append(route.receiver) }
        if let receiver = filter.receiver, !receivers.contains(where: { receiver.matches($0) }) { return nil }
        let silencedBy = dispatcher.silences.silencing(alert.labels, nowMs: nowMs)
        let inhibitedBy = index.inhibitors(of: alert.labels).map(AlertFingerprint.text)
        let suppressed = !silencedBy.isEmpty || !inhibitedBy.isEmpty
        if !filter.active && !suppressed { return nil }
        if !filter.silenced && !silencedBy.isEmpty { return nil }
        if !filter.inhibited && !inhibitedBy.isEmpty { return nil }
        var out = "{\"annotations\":"
        JSONText.appendLabels(alert.annotations, to: &out)
        out += ",\"endsAt\":" + JSONText.quoted(NotifyRFC3339.format(ms: alert.endsAtMs))
        out += ",\"fingerprint\":" + JSONText.quoted(AlertFingerprint.text(alert.fingerprint))
        out += ",\"receivers\":[" + receivers.map { "{\"name\":" + JSONText.quoted($0) + "}" }.joined(separator: ",") + "]"
        out += ",\"startsAt\":" + JSONText.quoted(NotifyRFC3339.format(ms: alert.startsAtMs))
        out += ",\"status\":{\"inhibitedBy\":[" + inhibitedBy.map(JSONText.quoted).joined(separator: ",") + "]"
        out += ",\"silencedBy\":[" + silencedBy.map(JSONText.quoted).joined(separator: ",") + "]"
        out += ",\"state\":" + JSONText.quoted(suppressed ? "suppressed" : "active") + "}"
        out += ",\"updatedAt\":" + JSONText.quoted(NotifyRFC3339.format(ms: alert.updatedAtMs))
        out += ",\"generatorURL\":" + JSONText.quoted(alert.generatorURL) + ",\"labels\":"
        JSONText.appendLabels(alert.labels, to: &out)
        return out + "}"
    }

    /// `POST /api/v2/alerts`: Prometheus' postable alerts. Valid alerts are taken even when others are not; the
    /// answer is then 400 naming the problems, as Alertmanager does.
    package func postAlerts(body: [UInt8], tenant: Tenant) async -> AlertmanagerAPIResponse {
        let list: [Any]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: Data(body)) as? [Any] else {
                return .error(400, "body must be a JSON array of alerts")
            }
            list = parsed
        } catch {
            return .error(400, "body is not valid JSON: \(error.localizedDescription)")
        }
        var alerts: [Alert] = []
        var problems: [String] = []
        for (index, item) in list.enumerated() {
            do { alerts.append(try Self.postable(item)) } catch { problems.append("alert \(index): \(Self.message(error))") }
        }
        await notifier.receive(alerts, tenant: tenant)
        if !problems.isEmpty { return .error(400, problems.joined(separator: "; ")) }
        return .json("")
    }

    /// Decodes and validates one postable alert.
    private static func postable(_ item: Any) throws -> Alert {
        guard let object = item as? [String: Any] else { throw SightlineError(.invalidArgument, "an alert must be a JSON object") }
        func labels(_ key: String) throws -> Labels {
            guard let value = object[key] else { return Labels([]) }
            guard let map = value as? [String: Any] else { throw SightlineError(.invalidArgument, "\(key) must be an object of strings") }
            var pairs: [Label] = []
            for (name, value) in map {
                guard let text = value as? String else { throw SightlineError(.invalidArgument, "\(key).\(name) must be a string") }
                pairs.append(Label(name, text))
            }
            return Labels(pairs)
        }
        func time(_ key: String) throws -> Int64? {
            guard let value = object[key], !(value is NSNull) else { return nil }
            guard let text = value as? String, let ms = NotifyRFC3339.parse(text) else {
                throw SightlineError(.invalidArgument, "\(key) must be an RFC 3339 date-time, got \(value)")
            }
            return NotifyRFC3339.isZero(ms) ? nil : ms
        }
        let labelSet = try labels("labels")
        guard !labelSet.labels.isEmpty else { throw SightlineError(.invalidArgument, "at least one label pair required") }
        for label in labelSet.labels {
            guard label.name.first.map({ $0.isNotifyLabelNameCharacter(first: true) && $0 != ":" }) == true,
                label.name.allSatisfy({ $0.isNotifyLabelNameCharacter(first: false) && $0 != ":" })
            else { throw SightlineError(.invalidArgument, "invalid label set: invalid name \"\(label.name)\"") }
        }
        let startsAt = try time("startsAt")
        let endsAt = try time("endsAt")
        if let startsAt, let endsAt, endsAt < startsAt { throw SightlineError(.invalidArgument, "start time must be before end time") }
        return Alert(
            labels: labelSet, annotations: try labels("annotations"), startsAtMs: startsAt ?? 0, endsAtMs: endsAt,
            generatorURL: object["generatorURL"] as? String ?? "")
    }

    // MARK: Silences

    /// `GET /api/v2/silences`: active ones first (soonest end first), then pending (soonest start), then expired
    /// (latest end first); `filter` keeps silences whose equality matchers satisfy the given matchers.
    package func getSilences(query: [(String, String)], tenant: Tenant) async -> AlertmanagerAPIResponse {
        var matchers: [LabelMatcher] = []
        for (name, value) in query where name == "filter" {
            do { matchers += try MatcherText.parseList(value) } catch { return .error(400, "bad matcher format: \(value)") }
        }
        let now = await notifier.now()
        let silences = await notifier.dispatcher(tenant).silences.all.filter { silence in
            let equalities = Labels(silence.matchers.filter { $0.isEqual && !$0.isRegex }.map { Label($0.name, $0.value) })
            return LabelMatcher.notifyAll(matchers, match: equalities)
        }
        func rank(_ s: Silence) -> (Int, Int64) {
            switch s.state(atMs: now) {
            case .active: (0, s.endsAtMs)
            case .pending: (1, s.startsAtMs)
            case .expired: (2, -s.endsAtMs)
            }
        }
        let sorted = silences.sorted { rank($0) == rank($1) ? $0.id < $1.id : rank($0) < rank($1) }
        return .json("[" + sorted.map { Self.gettable($0, nowMs: now) }.joined(separator: ",") + "]")
    }

    /// `GET /api/v2/silence/{id}`.
    package func getSilence(id: String, tenant: Tenant) async -> AlertmanagerAPIResponse {
        guard let silence = await notifier.dispatcher(tenant).silences.silences[id] else { return .error(404, "silence \(id) not found") }
        return .json(Self.gettable(silence, nowMs: await notifier.now()))
    }

    /// `DELETE /api/v2/silence/{id}`: expires it.
    package func deleteSilence(id: String, tenant: Tenant) async -> AlertmanagerAPIResponse {
        do {
            try await notifier.expireSilence(id: id, tenant: tenant)
            return .json("")
        } catch let error as SightlineError where error.code == .notFound {
            return .error(404, error.message)
        } catch {
            return .error(400, Self.message(error))
        }
    }

    /// `POST /api/v2/silences`: creates, or updates when `id` is given; answers `{"silenceID": "…"}`.
    package func postSilences(body: [UInt8], tenant: Tenant) async -> AlertmanagerAPIResponse {
        let silence: Silence
        do { silence = try Self.postableSilence(body) } catch { return .error(400, Self.message(error)) }
        do {
            let id = try await notifier.setSilence(silence, tenant: tenant)
            return .json("{\"silenceID\":" + JSONText.quoted(id) + "}")
        } catch let error as SightlineError where error.code == .notFound {
            return .error(404, error.message)
        } catch {
            return .error(400, Self.message(error))
        }
    }

    private static func postableSilence(_ body: [UInt8]) throws -> Silence {
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: Data(body)) } catch {
            throw SightlineError(.invalidArgument, "body is not valid JSON: \(error.localizedDescription)")
        }
        guard let object = parsed as? [String: Any] else { throw SightlineError(.invalidArgument, "body must be a JSON object") }
        func string(_ key: String) throws -> String {
            guard let value = object[key] as? String else { throw SightlineError(.invalidArgument, "\(key) in body is required") }
            return value
        }
        func time(_ key: String) throws -> Int64 {
            guard let ms = NotifyRFC3339.parse(try string(key)) else { throw SightlineError(.invalidArgument, "\(key) in body must be of type date-time") }
            return ms
        }
        guard let matcherList = object["matchers"] as? [[String: Any]] else { throw SightlineError(.invalidArgument, "matchers in body is required") }
        let matchers = try matcherList.map { item -> Silence.Matcher in
            guard let name = item["name"] as? String, let value = item["value"] as? String, let isRegex = item["isRegex"] as? Bool else {
                throw SightlineError(.invalidArgument, "each matcher needs name, value and isRegex")
            }
            return Silence.Matcher(name: name, value: value, isRegex: isRegex, isEqual: item["isEqual"] as? Bool ?? true)
        }
        return Silence(
            id: object["id"] as? String ?? "", matchers: matchers, startsAtMs: try time("startsAt"), endsAtMs: try time("endsAt"),
            createdBy: try string("createdBy"), comment: try string("comment"))
    }

    private static func gettable(_ silence: Silence, nowMs: Int64) -> String {
        var out = "{\"id\":" + JSONText.quoted(silence.id)
        out += ",\"status\":{\"state\":" + JSONText.quoted(silence.state(atMs: nowMs).rawValue) + "}"
        out += ",\"updatedAt\":" + JSONText.quoted(NotifyRFC3339.format(ms: silence.updatedAtMs))
        out += ",\"comment\":" + JSONText.quoted(silence.comment)
        out += ",\"createdBy\":" + JSONText.quoted(silence.createdBy)
        out += ",\"endsAt\":" + JSONText.quoted(NotifyRFC3339.format(ms: silence.endsAtMs))
        out += ",\"matchers\":[" + silence.matchers.map { m in
            "{\"isEqual\":\(m.isEqual),\"isRegex\":\(m.isRegex),\"name\":\(JSONText.quoted(m.name)),\"value\":\(JSONText.quoted(m.value))}"
        }.joined(separator: ",") + "]"
        out += ",\"startsAt\":" + JSONText.quoted(NotifyRFC3339.format(ms: silence.startsAtMs)) + "}"
        return out
    }

    // MARK: Status

    /// `GET /api/v2/status`: no cluster (Sightline runs one notifier), the config text, the start time.
    package func getStatus() async -> AlertmanagerAPIResponse {
        let config = await notifier.config
        var out = "{\"cluster\":{\"name\":\"\",\"peers\":[],\"status\":\"disabled\"}"
        out += ",\"config\":{\"original\":" + JSONText.quoted(config.original) + "}"
        out += ",\"uptime\":" + JSONText.quoted(NotifyRFC3339.format(ms: notifier.startedAtMs))
        out += ",\"versionInfo\":{\"branch\":\"\",\"buildDate\":\"\",\"buildUser\":\"\",\"goVersion\":\"\",\"revision\":\"\",\"version\":\"sightline\"}}"
        return .json(out)
    }

    /// `GET /api/v2/receivers`.
    package func getReceivers() async -> AlertmanagerAPIResponse {
        let config = await notifier.config
        return .json("[" + config.receivers.map { "{\"name\":" + JSONText.quoted($0.name) + "}" }.joined(separator: ",") + "]")
    }

    private static func message(_ error: any Error) -> String {
        (error as? SightlineError)?.message ?? "\(error)"
    }
}
