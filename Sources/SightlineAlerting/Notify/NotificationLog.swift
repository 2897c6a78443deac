/// What each receiver integration was last told about each alert group: the fingerprints of the firing and resolved
/// alerts of the last notification that succeeded, and when. Alertmanager's `nflog`: it decides whether a group needs
/// a notification (something new, or `repeat_interval` passed), so after a restart nothing is sent twice.
package struct NotificationLog: Sendable {
    /// One entry.
    package struct Entry: Sendable, Codable, Equatable {
        package var firing: [UInt64]
        package var resolved: [UInt64]
        package var timestampMs: Int64
        package var expiresAtMs: Int64
        package init(firing: [UInt64], resolved: [UInt64], timestampMs: Int64, expiresAtMs: Int64) {
            self.firing = firing
            self.resolved = resolved
            self.timestampMs = timestampMs
            self.expiresAtMs = expiresAtMs
        }
    }

    /// Entries by ``key(receiver:integration:index:groupKey:)``.
    package private(set) var entries: [String: Entry] = [:]
    /// How long an entry is kept after it was written (Alertmanager's `--data.retention`, 120h).
    package var retentionMs: Int64 = 120 * 3_600_000

    package init(entries: [String: Entry] = [:]) { self.entries = entries }

    /// The key of one integration of one receiver for one group.
    package static func key(receiver: String, integration: String, index: Int, groupKey: String) -> String {
        "\(receiver)/\(integration)/\(index)/\(groupKey)"
    }

    /// Records a notification that succeeded.
    package mutating func log(key: String, firing: [UInt64], resolved: [UInt64], nowMs: Int64) {
        entries[key] = Entry(firing: firing.sorted(), resolved: resolved.sorted(), timestampMs: nowMs, expiresAtMs: nowMs + retentionMs)
    }

    /// The entry for `key`.
    package func entry(_ key: String) -> Entry? { entries[key] }

    /// Merges entries from another copy of the log (another server's), as Alertmanager's peers merge theirs: per key,
    /// the entry written later wins.
    /// - Returns: Whether this log changed.
    package mutating func merge(_ incoming: [String: Entry]) -> Bool {
        var changed = false
        for (key, entry) in incoming where entry.timestampMs > entries[key]?.timestampMs ?? Int64.min {
            entries[key] = entry
            changed = true
        }
        return changed
    }

    /// Drops expired entries; returns whether any were dropped.
    package mutating func collectGarbage(nowMs: Int64) -> Bool {
        let before = entries.count
        entries = entries.filter { $0.value.expiresAtMs > nowMs }
        return entries.count != before
    }

    /// Alertmanager's DedupStage decision: whether a group with these firing and resolved alerts needs a notification.
    ///
    /// Nothing sent before: notify if anything fires. Something fires that was not notified: notify. Nothing fires
    /// any more but something did: notify (even without `send_resolved`, so the log forgets the firing alerts).
    /// New resolved alerts with `send_resolved`: notify. Otherwise only once `repeat_interval` has passed.
    package static func needsUpdate(
        _ entry: Entry?, firing: Set<UInt64>, resolved: Set<UInt64>, sendResolved: Bool, repeatIntervalMs: Int64, nowMs: Int64
    ) -> Bool {
        guard let entry else { return !firing.isEmpty }
        if !firing.isSubset(of: Set(entry.firing)) { return true }
        if firing.isEmpty { return !entry.firing.isEmpty }
        if sendResolved, !resolved.isSubset(of: Set(entry.resolved)) { return true }
        return entry.timestampMs < nowMs - repeatIntervalMs
    }
}
