import Foundation
package import SightlineCore

/// How long the records of some streams are kept: streams of `tenant` (any tenant when nil) whose labels match every
/// matcher keep their data for `maxAge`.
package struct LogRetentionRule: Sendable {
    package var tenant: Tenant?
    package var matchers: [LabelMatcher]
    package var maxAge: Duration

    package init(tenant: Tenant? = nil, matchers: [LabelMatcher] = [], maxAge: Duration) {
        self.tenant = tenant
        self.matchers = matchers
        self.maxAge = maxAge
    }

    /// Whether the rule applies to the stream `labels` of `tenant`.
    func applies(to tenant: Tenant, labels: Labels) -> Bool {
        (self.tenant == nil || self.tenant == tenant) && matchers.allSatisfy { $0.matches(labels) }
    }
}

/// The settings of a ``LogStore``. Every one has a default; the server overrides what its configuration names.
package struct LogStoreOptions: Sendable {
    /// A block ends when its lines (plus 64 bytes a record for the other columns) reach this many bytes. Larger blocks
    /// compress a little better; smaller ones let a rare-term search read less.
    package var blockTargetBytes: Int
    /// A block ends at this many records.
    package var blockMaxRecords: Int
    /// Bits of the per-block trigram filter per distinct trigram (see ``TrigramBloom``).
    package var bloomBitsPerTrigram: Int
    /// Parts of the current generation of a stream are merged once this many of them fall in one size tier (below
    /// 64 KiB, then each tier 4× larger), so records are rewritten a logarithmic number of times.
    package var mergeMinParts: Int
    /// Parts this large are not merged further, and a merge does not produce parts much larger.
    package var mergeMaxPartBytes: Int
    /// A stream rolls over to a new generation once its current one holds this many bytes of parts.
    package var rolloverMaxBytes: Int
    /// A stream rolls over to a new generation once its current one is this old (since its first part was written).
    package var rolloverMaxAge: Duration
    /// Retention rules; the first that applies to a stream decides. Whole generations whose newest record is older
    /// than the age are dropped.
    package var retention: [LogRetentionRule]
    /// The retention of streams no rule applies to; nil keeps them forever.
    package var defaultRetention: Duration?
    /// How many streams are encoded, merged or counted, and how many blocks a scan decodes, at once (default: the
    /// machine's cores).
    package var parallelism: Int

    package init(
        blockTargetBytes: Int = 1 << 20, blockMaxRecords: Int = 16_384, bloomBitsPerTrigram: Int = 4, mergeMinParts: Int = 4,
        mergeMaxPartBytes: Int = 256 << 20, rolloverMaxBytes: Int = 1 << 30, rolloverMaxAge: Duration = .seconds(86_400),
        retention: [LogRetentionRule] = [], defaultRetention: Duration? = nil,
        parallelism: Int = ProcessInfo.processInfo.activeProcessorCount
    ) {
        self.blockTargetBytes = blockTargetBytes
        self.blockMaxRecords = blockMaxRecords
        self.bloomBitsPerTrigram = bloomBitsPerTrigram
        self.mergeMinParts = mergeMinParts
        self.mergeMaxPartBytes = mergeMaxPartBytes
        self.rolloverMaxBytes = rolloverMaxBytes
        self.rolloverMaxAge = rolloverMaxAge
        self.retention = retention
        self.defaultRetention = defaultRetention
        self.parallelism = max(1, parallelism)
    }

    /// The retention of a stream in ns, or nil to keep it.
    func retentionNano(tenant: Tenant, labels: Labels) -> UInt64? {
        let age = retention.first { $0.applies(to: tenant, labels: labels) }?.maxAge ?? defaultRetention
        return age.map(\.nanoseconds)
    }
}

extension Duration {
    /// The duration in whole nanoseconds, 0 when negative.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000).partialValue &+ UInt64(attoseconds / 1_000_000_000)
    }
}
