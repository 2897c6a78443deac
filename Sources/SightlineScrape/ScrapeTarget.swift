package import Logging
package import SightlineCore

/// A target to scrape: where it is and the labels it adds to every sample, after `relabel_configs`.
///
/// Built as Prometheus builds one: the static address and labels, then `job`, `__address__`, `__scheme__`,
/// `__metrics_path__`, `__scrape_interval__`, `__scrape_timeout__` and `__param_<name>` where not already set, then
/// `relabel_configs`. `instance` defaults to `__address__`; labels starting with `__` are used for the URL and the
/// interval, and never stored.
package struct ScrapeTarget: Sendable, Hashable {
    /// The labels added to every sample: sorted by name, none starting with `__`.
    package var labels: [Label]
    /// The host and port from `__address__`.
    package var address: ScrapeAddress
    /// The path and query from `__metrics_path__` and `__param_<name>`: `/metrics?module=http`.
    package var pathAndQuery: String
    /// The scrape interval, from `__scrape_interval__`.
    package var interval: Duration
    /// The scrape timeout, from `__scrape_timeout__`.
    package var timeout: Duration
    /// The configuration of the job.
    package var config: ScrapeConfig
    /// The labels before relabeling (`__address__`, `__metrics_path__`, … and the static labels), sorted. Not part of
    /// the target's identity: entries that relabel to the same target are one target, as in Prometheus.
    package var discoveredLabels: [Label]

    /// The URL, for logs: `http://localhost:9100/metrics`.
    package var url: String { "\(config.scheme)://\(address.description)\(pathAndQuery)" }

    package static func == (lhs: ScrapeTarget, rhs: ScrapeTarget) -> Bool {
        lhs.labels == rhs.labels && lhs.address == rhs.address && lhs.pathAndQuery == rhs.pathAndQuery && lhs.interval == rhs.interval
            && lhs.timeout == rhs.timeout && lhs.config == rhs.config
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(labels)
        hasher.combine(address)
        hasher.combine(pathAndQuery)
        hasher.combine(interval)
        hasher.combine(timeout)
        hasher.combine(config)
    }

    /// Builds the target for one static address.
    /// - Parameters:
    ///   - config: The job.
    ///   - address: The `host:port` from `static_configs`.
    ///   - staticLabels: The labels of its `static_configs` entry.
    /// - Returns: The target, or nil when `relabel_configs` drop it.
    /// - Throws: ``SightlineError`` `.configuration` when the relabeled labels have no valid address or interval.
    package init?(config: ScrapeConfig, address: String, staticLabels: [String: String] = [:]) throws {
        let initial = Self.discoveredLabels(config: config, address: address, staticLabels: staticLabels)
        guard let relabeled = Relabeler.apply(initial, config.relabelConfigs) else { return nil }
        var builder = LabelBuilder(relabeled)
        let addressText = builder["__address__"]
        guard !addressText.isEmpty else {
            throw SightlineError(.configuration, "target of job \"\(config.jobName)\" has no __address__ after relabeling")
        }
        guard let parsed = ScrapeAddress(addressText, defaultPort: 80) else {
            throw SightlineError(.configuration, "target of job \"\(config.jobName)\": \"\(addressText)\" is not a valid host:port")
        }
        let interval = try ScrapeDuration.parse(builder["__scrape_interval__"])
        let timeout = try ScrapeDuration.parse(builder["__scrape_timeout__"])
        guard interval > .zero, timeout > .zero, timeout <= interval else {
            throw SightlineError(
                .configuration,
                "target \(addressText) of job \"\(config.jobName)\": scrape timeout must be positive and at most the interval")
        }
        guard builder["__scheme__"] == "http" else {
            throw SightlineError(
                .configuration, "target \(addressText) of job \"\(config.jobName)\": scheme \"\(builder["__scheme__"])\" is not supported yet")
        }
        var path = builder["__metrics_path__"]
        if !path.hasPrefix("/") { path = "/" + path }
        var query: [(String, String)] = []
        var params = config.params
        for label in builder.labels where label.name.hasPrefix("__param_") {
            let name = String(label.name.dropFirst("__param_".count))
            var values = params[name] ?? []
            if values.isEmpty { values = [label.value] } else { values[0] = label.value }
            params[name] = values
        }
        for (name, values) in params.sorted(by: { $0.key < $1.key }) {
            for value in values { query.append((name, value)) }
        }
        if builder["instance"].isEmpty { builder["instance"] = addressText }
        self.labels = builder.sorted().filter { !$0.name.hasPrefix("__") }
        self.discoveredLabels = initial
        self.address = parsed
        self.pathAndQuery = query.isEmpty ? path : path + (path.contains("?") ? "&" : "?") + PercentEncoding.form(query)
        self.interval = interval
        self.timeout = timeout
        self.config = config
    }

    /// The labels of a static target before relabeling, sorted by name: its group's labels, `__address__`, and
    /// `job`, `__scrape_interval__`, `__scrape_timeout__`, `__metrics_path__`, `__scheme__` and `__param_<name>` from
    /// the job where the group does not set them.
    package static func discoveredLabels(config: ScrapeConfig, address: String, staticLabels: [String: String] = [:]) -> [Label] {
        var initial = staticLabels.map { Label($0.key, $0.value) }
        func setDefault(_ name: String, _ value: String) {
            if !initial.contains(where: { $0.name == name }) { initial.append(Label(name, value)) }
        }
        initial.removeAll { $0.name == "__address__" }
        initial.append(Label("__address__", address))
        setDefault("job", config.jobName)
        setDefault("__scrape_interval__", ScrapeDuration.format(config.scrapeInterval))
        setDefault("__scrape_timeout__", ScrapeDuration.format(config.effectiveTimeout))
        setDefault("__metrics_path__", config.metricsPath)
        setDefault("__scheme__", config.scheme)
        for (name, values) in config.params.sorted(by: { $0.key < $1.key }) {
            if let first = values.first { setDefault("__param_\(name)", first) }
        }
        return initial.sorted { $0.name < $1.name }
    }

    /// Builds every target of a job, and the discovered labels of those `relabel_configs` drop; targets whose labels
    /// are invalid are logged and skipped.
    /// - Parameters:
    ///   - config: The job.
    ///   - logger: Where to report invalid targets.
    /// - Returns: The targets, without duplicates, in configuration order; the dropped ones' labels.
    package static func discover(_ config: ScrapeConfig, logger: Logger) -> (active: [ScrapeTarget], dropped: [[Label]]) {
        var result: [ScrapeTarget] = []
        var dropped: [[Label]] = []
        var seen = Set<ScrapeTarget>()
        for group in config.staticConfigs {
            for address in group.targets {
                do {
                    if let target = try ScrapeTarget(config: config, address: address, staticLabels: group.labels) {
                        if seen.insert(target).inserted { result.append(target) }
                    } else {
                        dropped.append(discoveredLabels(config: config, address: address, staticLabels: group.labels))
                    }
                } catch {
                    logger.warning(
                        "skipping scrape target", metadata: ["job": "\(config.jobName)", "target": "\(address)", "reason": "\(error)"])
                }
            }
        }
        return (result, dropped)
    }

    /// A stable 64-bit hash of the target (FNV-1a over URL and labels), for the scrape offset within the interval.
    package var stableHash: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ text: String) {
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x100_0000_01b3
            }
            hash ^= 0xFF
            hash = hash &* 0x100_0000_01b3
        }
        mix(url)
        for label in labels {
            mix(label.name)
            mix(label.value)
        }
        return hash
    }
}
