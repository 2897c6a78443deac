package import SightlineCore
import Synchronization

/// The targets a ``ScrapeManager`` scrapes and what each one's last scrape found, and the targets relabeling
/// dropped: what Prometheus' `/api/v1/targets` shows.
package final class ScrapeTargetStatus: Sendable {
    /// Whether the last scrape of a target succeeded; `unknown` before the first.
    package enum Health: String, Sendable {
        case up, down, unknown
    }

    /// A scraped target.
    package struct Active: Sendable {
        package var target: ScrapeTarget
        package var health = Health.unknown
        /// Why the last scrape failed; empty when it did not.
        package var lastError = ""
        /// When the last scrape started (wall-clock milliseconds); nil before the first.
        package var lastScrapeMs: Int64?
        package var lastScrapeDurationSeconds = 0.0
    }

    /// A target relabeling dropped: its job and labels before relabeling.
    package struct Dropped: Sendable {
        package var config: ScrapeConfig
        package var discoveredLabels: [Label]
    }

    private struct State {
        var active: [ScrapeTarget: Active] = [:]
        var dropped: [Dropped] = []
    }

    private let state = Mutex(State())

    package init() {}

    /// Replaces the targets, keeping what is known of those that stay.
    package func replace(active targets: [ScrapeTarget], dropped: [Dropped]) {
        state.withLock { state in
            var active: [ScrapeTarget: Active] = [:]
            for target in targets { active[target] = state.active[target] ?? Active(target: target) }
            state.active = active
            state.dropped = dropped
        }
    }

    /// Notes a scrape of `target`: when it started, how long it took, and why it failed (nil when it did not).
    package func record(_ target: ScrapeTarget, startedMs: Int64, durationSeconds: Double, error: String?) {
        state.withLock { state in
            guard var entry = state.active[target] else { return }
            entry.health = error == nil ? .up : .down
            entry.lastError = error ?? ""
            entry.lastScrapeMs = startedMs
            entry.lastScrapeDurationSeconds = durationSeconds
            state.active[target] = entry
        }
    }

    /// The scraped targets of `tenant`, by job and URL.
    package func active(tenant: Tenant) -> [Active] {
        state.withLock { $0.active.values.filter { $0.target.config.tenant == tenant } }
            .sorted { a, b in
                (a.target.config.jobName, a.target.url) != (b.target.config.jobName, b.target.url)
                    ? (a.target.config.jobName, a.target.url) < (b.target.config.jobName, b.target.url)
                    : a.target.labels.lexicographicallyPrecedes(b.target.labels)
            }
    }

    /// The dropped targets of `tenant`, in configuration order.
    package func dropped(tenant: Tenant) -> [Dropped] {
        state.withLock { $0.dropped.filter { $0.config.tenant == tenant } }
    }
}
