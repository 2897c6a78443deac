package import SightlineCore

/// One `scrape_configs` entry: a job, its targets and how to scrape them, with Prometheus's defaults.
///
/// The server parses YAML into this struct and calls ``validate()`` before starting a ``ScrapeManager``.
///
/// ```swift
/// var config = ScrapeConfig(jobName: "node", scrapeInterval: .seconds(15))
/// config.staticConfigs = [StaticConfig(targets: ["localhost:9100"], labels: ["env": "dev"])]
/// try config.validate()
/// ```
package struct ScrapeConfig: Sendable, Hashable {
    /// The default `scrape_interval`.
    package static let defaultInterval: Duration = .seconds(60)
    /// The default `scrape_timeout`, lowered to the interval when the interval is shorter.
    package static let defaultTimeout: Duration = .seconds(10)
    /// The default `body_size_limit`: 64 MiB after decompression.
    package static let defaultBodySizeLimit = 64 << 20

    /// `job_name`: the value of the `job` label.
    package var jobName: String
    /// The tenant that owns everything this job scrapes.
    package var tenant: Tenant
    /// `scrape_interval`.
    package var scrapeInterval: Duration
    /// `scrape_timeout`; nil for the default, the smaller of 10s and the interval.
    package var scrapeTimeout: Duration?
    /// `metrics_path`.
    package var metricsPath: String
    /// `scheme`: only `http` for now.
    package var scheme: String
    /// `honor_labels`: scraped labels win over target labels instead of being renamed `exported_<name>`.
    package var honorLabels: Bool
    /// `honor_timestamps`: keep timestamps the targets expose.
    package var honorTimestamps: Bool
    /// `params`: URL query parameters of every scrape.
    package var params: [String: [String]]
    /// `static_configs`.
    package var staticConfigs: [StaticConfig]
    /// `relabel_configs`: run on target labels before scraping.
    package var relabelConfigs: [RelabelConfig]
    /// `metric_relabel_configs`: run on every scraped sample.
    package var metricRelabelConfigs: [RelabelConfig]
    /// `body_size_limit` in bytes, after decompression; a larger body fails the scrape.
    package var bodySizeLimit: Int
    /// `sample_limit`: more samples after metric relabeling fail the scrape; 0 for no limit.
    package var sampleLimit: Int

    /// Creates a configuration; every parameter but the job name has the Prometheus default.
    package init(
        jobName: String,
        tenant: Tenant = .default,
        scrapeInterval: Duration = ScrapeConfig.defaultInterval,
        scrapeTimeout: Duration? = nil,
        metricsPath: String = "/metrics",
        scheme: String = "http",
        honorLabels: Bool = false,
        honorTimestamps: Bool = true,
        params: [String: [String]] = [:],
        staticConfigs: [StaticConfig] = [],
        relabelConfigs: [RelabelConfig] = [],
        metricRelabelConfigs: [RelabelConfig] = [],
        bodySizeLimit: Int = ScrapeConfig.defaultBodySizeLimit,
        sampleLimit: Int = 0
    ) {
        self.jobName = jobName
        self.tenant = tenant
        self.scrapeInterval = scrapeInterval
        self.scrapeTimeout = scrapeTimeout
        self.metricsPath = metricsPath
        self.scheme = scheme
        self.honorLabels = honorLabels
        self.honorTimestamps = honorTimestamps
        self.params = params
        self.staticConfigs = staticConfigs
        self.relabelConfigs = relabelConfigs
        self.metricRelabelConfigs = metricRelabelConfigs
        self.bodySizeLimit = bodySizeLimit
        self.sampleLimit = sampleLimit
    }

    /// The timeout in force: `scrape_timeout`, or the smaller of 10s and the interval.
    package var effectiveTimeout: Duration {
        scrapeTimeout ?? min(Self.defaultTimeout, scrapeInterval)
    }

    /// Checks the configuration.
    /// - Throws: ``SightlineError`` `.configuration` naming the job and the field, e.g.
    ///   `scrape config "node": scrape_timeout (15s) is greater than scrape_interval (10s)`.
    package func validate() throws {
        let prefix = "scrape config \"\(jobName)\""
        func fail(_ message: String) -> SightlineError { SightlineError(.configuration, "\(prefix): \(message)") }
        guard !jobName.isEmpty else { throw SightlineError(.configuration, "scrape config: job_name must not be empty") }
        guard scheme == "http" else {
            if scheme == "https" { throw fail("scheme \"https\" is not supported yet; use http") }
            throw fail("scheme \"\(scheme)\" is invalid; use http")
        }
        guard scrapeInterval > .zero else { throw fail("scrape_interval must be greater than zero") }
        let timeout = effectiveTimeout
        guard timeout > .zero else { throw fail("scrape_timeout must be greater than zero") }
        guard timeout <= scrapeInterval else {
            throw fail(
                "scrape_timeout (\(ScrapeDuration.format(timeout))) is greater than scrape_interval (\(ScrapeDuration.format(scrapeInterval)))")
        }
        guard metricsPath.hasPrefix("/") else { throw fail("metrics_path \"\(metricsPath)\" must start with '/'") }
        guard bodySizeLimit > 0 else { throw fail("body_size_limit must be greater than zero") }
        guard sampleLimit >= 0 else { throw fail("sample_limit must not be negative") }
        for (i, group) in staticConfigs.enumerated() {
            for (j, target) in group.targets.enumerated() {
                guard ScrapeAddress(target, defaultPort: 80) != nil else {
                    throw fail("static_configs[\(i)].targets[\(j)]: \"\(target)\" is not a valid host:port")
                }
            }
            for name in group.labels.keys where !PrometheusLabelName.isValid(name) {
                throw fail("static_configs[\(i)].labels: \"\(name)\" is not a valid label name")
            }
        }
        for (i, step) in relabelConfigs.enumerated() { try step.validate(field: "\(prefix): relabel_configs[\(i)]") }
        for (i, step) in metricRelabelConfigs.enumerated() {
            try step.validate(field: "\(prefix): metric_relabel_configs[\(i)]")
        }
    }
}

/// One `static_configs` entry: addresses and the labels all of them get.
package struct StaticConfig: Sendable, Hashable {
    /// `host:port` addresses.
    package var targets: [String]
    /// Labels added to each target (and so to every sample it exposes).
    package var labels: [String: String]

    package init(targets: [String], labels: [String: String] = [:]) {
        self.targets = targets
        self.labels = labels
    }
}
