import Testing

@testable import SightlineCore
@testable import SightlineServer

struct BatchValidatorTests {
    private static func limits(_ policy: LongLogBodyPolicy, maxBytes: Int) -> IngestLimits {
        var limits = IngestLimits()
        limits.maxLogBodyBytes = maxBytes
        limits.longLogBodies = policy
        return limits
    }

    @Test func longBodiesAreRejectedByDefaultWithTheLimitNamed() {
        let validator = BatchValidator(limits: Self.limits(.reject, maxBytes: 8))
        let result = validator.validate(.logs([LogRecord(body: .string("short")), LogRecord(body: .string("much too long"))]))
        guard case .logs(let kept) = result.batch else { Issue.record("not logs"); return }
        #expect(kept.map(\.line) == ["short"])
        #expect(result.rejections == ["body_too_large": 1])
        #expect(result.message.contains("13 bytes"))
        #expect(result.message.contains("limits.max_log_body_bytes"))
        #expect(result.truncated == 0)
    }

    /// What the `_bulk` handler asks per document: dropped for too many attributes whatever the policy, for a long
    /// body only when such bodies are refused (else validation truncates it).
    @Test func dropReasonsFollowThePolicy() {
        let long = LogRecord(body: .string("much too long"))
        var crowded = LogRecord(body: .string("ok"))
        var limits = Self.limits(.reject, maxBytes: 8)
        limits.maxAttributes = 1
        crowded.attributes = [Attribute("a", .int(1)), Attribute("b", .int(2))]
        let refusing = BatchValidator(limits: limits)
        #expect(refusing.dropReason(for: long)?.0 == "body_too_large")
        #expect(refusing.dropReason(for: long)?.1.contains("limits.max_log_body_bytes") == true)
        #expect(refusing.dropReason(for: crowded)?.0 == "too_many_attributes")
        #expect(refusing.dropReason(for: LogRecord(body: .string("short"))) == nil)
        limits.longLogBodies = .truncate
        let truncating = BatchValidator(limits: limits)
        #expect(truncating.dropReason(for: long) == nil)
        #expect(truncating.dropReason(for: crowded)?.0 == "too_many_attributes")
    }

    @Test func seriesOverTheLabelLimitsAreRefusedWithTheLimitAndSeriesNamed() {
        var limits = IngestLimits()
        limits.maxLabelsPerSeries = 3
        limits.maxLabelValueBytes = 10
        let validator = BatchValidator(limits: limits)
        let good = MetricSample(labels: Labels(["__name__": "up", "job": "a"]), timestampMs: 1, value: 1)
        let upperCase = MetricSample(labels: Labels(["__name__": "up", "Zone": "a"]), timestampMs: 1, value: 1)
        // Nothing refused: the samples go on as they came.
        let clean = validator.validate(.metrics(MetricBatch(samples: [good, upperCase])))
        #expect(clean.batch == .metrics(MetricBatch(samples: [good, upperCase])) && clean.rejections.isEmpty)
        let samples = [
            good,
            MetricSample(labels: Labels(["job": "a"]), timestampMs: 1, value: 1),
            MetricSample(labels: Labels(["__name__": "up", "a": "1", "b": "2", "c": "3"]), timestampMs: 1, value: 1),
            MetricSample(labels: Labels(["__name__": "up", "job": "far too long a value"]), timestampMs: 1, value: 1),
            upperCase,
        ]
        let result = validator.validate(.metrics(MetricBatch(samples: samples)))
        #expect(result.batch == .metrics(MetricBatch(samples: [good, upperCase])))
        #expect(result.rejections == ["missing_metric_name": 1, "too_many_labels": 1, "label_too_long": 1])
        #expect(result.message.contains("no metric name"))
    }

    @Test func truncatedBodiesKeepTheLimitAndAreFlaggedWithTheirLength() {
        let validator = BatchValidator(limits: Self.limits(.truncate, maxBytes: 8))
        let result = validator.validate(.logs([LogRecord(body: .string("0123456789abc")), LogRecord(body: .string("fits"))]))
        guard case .logs(let kept) = result.batch else { Issue.record("not logs"); return }
        #expect(kept.map(\.line) == ["01234567", "fits"])
        #expect(kept[0].attributes == [Attribute(LongLogBodyPolicy.truncatedAttribute, .int(13))])
        #expect(kept[1].attributes.isEmpty)
        #expect(result.rejected == 0)
        #expect(result.truncated == 1)
    }

    /// A cut never splits a multi-byte character: "é" is two bytes, "€" three.
    @Test(arguments: [
        ("aé€b", 1, "a"), ("aé€b", 2, "a"), ("aé€b", 3, "aé"), ("aé€b", 5, "aé"), ("aé€b", 6, "aé€"), ("€€", 0, ""),
    ])
    func truncationEndsOnACharacterBoundary(text: String, maxBytes: Int, expected: String) {
        #expect(BatchValidator.prefix(of: text, maxBytes: maxBytes) == expected)
    }
}
