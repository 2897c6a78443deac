import Foundation
import SightlineCore
package import SightlineScrape
import Yams

/// The agent's `sources.scrape`: Prometheus scrape jobs with static targets and file-based target lists (Prometheus'
/// `file_sd_configs` format: a JSON or YAML list of `{targets: [...], labels: {...}}`), reloaded when a file changes.
///
/// Scraping itself is ``ScrapeManager``'s (the same loops the server runs, with `up` and the other per-target series);
/// this type only turns the agent's settings and the target files into ``ScrapeConfig``s.
package struct AgentScrapeJob: Sendable {
    /// The job with its static targets.
    package var config: ScrapeConfig
    /// Files listing more targets (glob patterns).
    package var targetFiles: [String]

    package init(config: ScrapeConfig, targetFiles: [String] = []) {
        self.config = config
        self.targetFiles = targetFiles
    }

    /// The job with the targets its files list now added as static groups.
    /// - Throws: `configuration` naming the file when one does not parse.
    package func resolved() throws -> ScrapeConfig {
        var config = self.config
        for path in FileTailer.glob(targetFiles) {
            config.staticConfigs += try Self.targetGroups(path: path)
        }
        try config.validate()
        return config
    }

    /// The modification times of the target files, to notice a change.
    package func fingerprint() -> [String: Double] {
        var times: [String: Double] = [:]
        for path in FileTailer.glob(targetFiles) {
            let date = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate]) as? Date
            times[path] = date?.timeIntervalSince1970 ?? 0
        }
        return times
    }

    /// Reads one target file.
    /// - Throws: `configuration` naming the file and what is wrong.
    package static func targetGroups(path: String) throws -> [StaticConfig] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SightlineError(.configuration, "cannot read target file \(path)")
        }
        let root: Any?
        do {
            root = try Yams.load(yaml: String(decoding: data, as: UTF8.self))
        } catch {
            throw SightlineError(.configuration, "target file \(path): invalid YAML/JSON: \(error)")
        }
        guard let root else { return [] }
        guard let groups = root as? [[String: Any]] else {
            throw SightlineError(.configuration, "target file \(path): expected a list of {targets: [...], labels: {...}}")
        }
        return try groups.enumerated().map { index, group in
            guard let targets = group["targets"] as? [Any] else {
                throw SightlineError(.configuration, "target file \(path): [\(index)].targets: expected a list of host:port")
            }
            let labels = (group["labels"] as? [String: Any] ?? [:]).mapValues { "\($0)" }
            return StaticConfig(targets: targets.map { "\($0)" }, labels: labels)
        }
    }
}
