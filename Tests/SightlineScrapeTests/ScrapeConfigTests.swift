import Logging
import SightlineCore
import Testing

@testable import SightlineScrape

struct ScrapeConfigTests {
    private func message(_ config: ScrapeConfig) -> String? {
        do {
            try config.validate()
            return nil
        } catch let error as SightlineError {
            #expect(error.code == .configuration)
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func defaultsAreThoseOfPrometheus() throws {
        let config = ScrapeConfig(jobName: "node")
        #expect(config.scrapeInterval == .seconds(60))
        #expect(config.effectiveTimeout == .seconds(10))
        #expect(config.metricsPath == "/metrics")
        #expect(config.scheme == "http")
        #expect(!config.honorLabels)
        #expect(config.honorTimestamps)
        #expect(config.tenant == .default)
        #expect(ScrapeConfig(jobName: "x", scrapeInterval: .seconds(5)).effectiveTimeout == .seconds(5))
        try config.validate()
    }

    @Test func validationNamesTheField() {
        #expect(message(ScrapeConfig(jobName: "")) == "scrape config: job_name must not be empty")
        #expect(message(ScrapeConfig(jobName: "n", scheme: "https")) == #"scrape config "n": scheme "https" is not supported yet; use http"#)
        #expect(message(ScrapeConfig(jobName: "n", scheme: "ftp")) == #"scrape config "n": scheme "ftp" is invalid; use http"#)
        #expect(
            message(ScrapeConfig(jobName: "n", scrapeInterval: .seconds(10), scrapeTimeout: .seconds(15)))
                == #"scrape config "n": scrape_timeout (15s) is greater than scrape_interval (10s)"#)
        #expect(message(ScrapeConfig(jobName: "n", scrapeInterval: .zero)) == #"scrape config "n": scrape_interval must be greater than zero"#)
        #expect(message(ScrapeConfig(jobName: "n", metricsPath: "metrics")) == #"scrape config "n": metrics_path "metrics" must start with '/'"#)
        #expect(
            message(ScrapeConfig(jobName: "n", staticConfigs: [StaticConfig(targets: ["ok:1"]), StaticConfig(targets: ["a:1", "http://x/y"])]))
                == #"scrape config "n": static_configs[1].targets[1]: "http://x/y" is not a valid host:port"#)
        #expect(
            message(
                ScrapeConfig(
                    jobName: "n",
                    relabelConfigs: [
                        RelabelConfig(sourceLabels: ["a"], targetLabel: "b"), RelabelConfig(action: .hashMod, sourceLabels: ["a"], targetLabel: "t"),
                    ]))
                == #"scrape config "n": relabel_configs[1]: action hashmod requires a non-zero modulus"#)
        #expect(
            message(ScrapeConfig(jobName: "n", metricRelabelConfigs: [RelabelConfig(action: .keep)]))
                == #"scrape config "n": metric_relabel_configs[0]: action keep requires source_labels"#)
    }

    @Test func durations() throws {
        #expect(try ScrapeDuration.parse("15s") == .seconds(15))
        #expect(try ScrapeDuration.parse("1m30s") == .seconds(90))
        #expect(try ScrapeDuration.parse("500ms") == .milliseconds(500))
        #expect(try ScrapeDuration.parse("1h") == .seconds(3600))
        #expect(try ScrapeDuration.parse("1d2h") == .seconds(93600))
        #expect(try ScrapeDuration.parse("0") == .zero)
        for bad in ["", "15", "s", "1x", "30s1m", "1m1m", "-5s", "1.5s"] {
            #expect(throws: SightlineError.self, "\(bad)") { try ScrapeDuration.parse(bad) }
        }
        #expect(ScrapeDuration.format(.seconds(90)) == "1m30s")
        #expect(ScrapeDuration.format(.seconds(60)) == "1m")
        #expect(ScrapeDuration.format(.milliseconds(1500)) == "1s500ms")
        #expect(ScrapeDuration.format(.zero) == "0s")
    }

    @Test func addresses() {
        #expect(ScrapeAddress("localhost:9100", defaultPort: 80) == ScrapeAddress(host: "localhost", port: 9100))
        #expect(ScrapeAddress("[::1]:9090", defaultPort: 80) == ScrapeAddress(host: "::1", port: 9090))
        #expect(ScrapeAddress("example.com", defaultPort: 80) == ScrapeAddress(host: "example.com", port: 80))
        #expect(ScrapeAddress("[::1]", defaultPort: 80)?.description == "[::1]:80")
        for bad in ["", ":80", "a:0", "a:70000", "a:b", "::1:80", "a/b:1", "http://a:1"] {
            #expect(ScrapeAddress(bad, defaultPort: 80) == nil, "\(bad)")
        }
    }

    @Test func targetLabelsFollowPrometheus() throws {
        let config = ScrapeConfig(
            jobName: "node", scrapeInterval: .seconds(15), metricsPath: "/probe", params: ["module": ["http_2xx"], "extra": ["a b", "c"]])
        let target = try #require(try ScrapeTarget(config: config, address: "host-1:9100", staticLabels: ["env": "prod", "__hidden": "x"]))
        #expect(target.labels == [Label("env", "prod"), Label("instance", "host-1:9100"), Label("job", "node")])
        #expect(target.address == ScrapeAddress(host: "host-1", port: 9100))
        #expect(target.pathAndQuery == "/probe?extra=a%20b&extra=c&module=http_2xx")
        #expect(target.url == "http://host-1:9100/probe?extra=a%20b&extra=c&module=http_2xx")
        #expect(target.interval == .seconds(15))
        #expect(target.timeout == .seconds(10))
    }

    @Test func relabelConfigsShapeTheTarget() throws {
        let config = ScrapeConfig(
            jobName: "blackbox", scrapeInterval: .seconds(30),
            relabelConfigs: [
                RelabelConfig(sourceLabels: ["__address__"], targetLabel: "__param_target"),
                RelabelConfig(sourceLabels: ["__param_target"], targetLabel: "instance"),
                RelabelConfig(targetLabel: "__address__", replacement: "prober:9115"),
                RelabelConfig(targetLabel: "__metrics_path__", replacement: "/probe"),
                RelabelConfig(targetLabel: "__scrape_interval__", replacement: "10s"),
                RelabelConfig(targetLabel: "__scrape_timeout__", replacement: "2s"),
                RelabelConfig(sourceLabels: ["job"], regex: "(.*)", targetLabel: "job", replacement: "${1}_probe"),
            ])
        let target = try #require(try ScrapeTarget(config: config, address: "example.com:443"))
        #expect(target.labels == [Label("instance", "example.com:443"), Label("job", "blackbox_probe")])
        #expect(target.url == "http://prober:9115/probe?target=example.com%3A443")
        #expect(target.interval == .seconds(10))
        #expect(target.timeout == .seconds(2))
    }

    @Test func droppedAndInvalidTargets() throws {
        let keepOnly = ScrapeConfig(
            jobName: "j", staticConfigs: [StaticConfig(targets: ["a:1", "b:1", "a:1"])],
            relabelConfigs: [RelabelConfig(action: .keep, sourceLabels: ["__address__"], regex: "a:.*")])
        let found = ScrapeTarget.discover(keepOnly, logger: Logger(label: "test"))
        #expect(found.active.map(\.url) == ["http://a:1/metrics"])
        #expect(found.active.first?.discoveredLabels.map { "\($0.name)=\($0.value)" } == [
            "__address__=a:1", "__metrics_path__=/metrics", "__scheme__=http", "__scrape_interval__=1m", "__scrape_timeout__=10s", "job=j",
        ])
        #expect(found.dropped.map { $0.first { $0.name == "__address__" }?.value } == ["b:1"])
        let noAddress = ScrapeConfig(jobName: "j", relabelConfigs: [RelabelConfig(action: .labelDrop, regex: "__address__")])
        #expect(throws: SightlineError.self) { try ScrapeTarget(config: noAddress, address: "a:1") }
        let badInterval = ScrapeConfig(jobName: "j", relabelConfigs: [RelabelConfig(targetLabel: "__scrape_timeout__", replacement: "2m")])
        #expect(throws: SightlineError.self) { try ScrapeTarget(config: badInterval, address: "a:1") }
    }

    @Test func offsetsAreStableAndSpread() throws {
        let config = ScrapeConfig(jobName: "j", scrapeInterval: .seconds(60))
        var offsets = Set<Int64>()
        for i in 0..<20 {
            let target = try #require(try ScrapeTarget(config: config, address: "host-\(i):9100"))
            let loop = ScrapeLoop(target: target, fetcher: HTTPFetcher(), sink: { _, _ in }, logger: Logger(label: "test"))
            #expect(loop.offsetMs() == loop.offsetMs())
            #expect((0..<60_000).contains(loop.offsetMs()))
            offsets.insert(loop.offsetMs() / 3000)
        }
        #expect(offsets.count >= 8)
    }
}
