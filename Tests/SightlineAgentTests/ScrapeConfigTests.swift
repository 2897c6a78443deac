import Foundation
import SightlineTestSupport
import SightlineScrape
import Testing

@testable import SightlineAgent
@testable import SightlineCore

/// `sources.scrape`: jobs with static targets and target files.
struct ScrapeConfigTests {
    @Test func jobsAndTargetFilesResolve() throws {
        let temporary = try TemporaryDirectory(prefix: "agent-scrape")
        defer { temporary.remove() }
        let targets = temporary.path + "/targets.json"
        try #"[{"targets": ["127.0.0.1:9100"], "labels": {"env": "test"}}]"#.write(toFile: targets, atomically: true, encoding: .utf8)
        let config = try AgentConfig.parse(
            """
            sources:
              scrape:
                - job_name: node
                  scrape_interval: 5s
                  static_configs: [{targets: ["127.0.0.1:9200"]}]
                  file_sd_configs: [{files: ["\(temporary.path)/*.json"], refresh_interval: 1s}]
            """, file: "agent.yaml")
        let job = try #require(config.scrapeJobs.first)
        #expect(config.scrapeRefreshInterval == 1)
        let resolved = try job.resolved()
        #expect(resolved.staticConfigs.flatMap(\.targets) == ["127.0.0.1:9200", "127.0.0.1:9100"])
        #expect(resolved.staticConfigs.last?.labels == ["env": "test"])
        #expect(job.fingerprint().count == 1)
        try "not: [a list".write(toFile: targets, atomically: true, encoding: .utf8)
        #expect(throws: SightlineError.self) { try job.resolved() }
        do {
            _ = try AgentConfig.parse("sources:\n  scrape:\n    - job_name: x\n      scrape_timeout: 20s\n      scrape_interval: 10s", file: "agent.yaml")
            Issue.record("a timeout above the interval was accepted")
        } catch let error as SightlineError {
            #expect(error.description.contains("sources.scrape[0]"))
        }
    }
}
