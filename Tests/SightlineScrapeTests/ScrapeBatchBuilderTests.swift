import SightlineCore
import SightlineIngest
import Testing

@testable import SightlineScrape

struct ScrapeBatchBuilderTests {
    private func target(_ config: ScrapeConfig = ScrapeConfig(jobName: "app")) throws -> ScrapeTarget {
        try #require(try ScrapeTarget(config: config, address: "h:1", staticLabels: ["env": "dev"]))
    }

    private func exposition(_ text: String, at t: Int64 = 100) throws -> ParsedExposition {
        try PrometheusTextParser.parse(text, defaultTimestampMs: t)
    }

    @Test func successAttachesTargetLabelsAndReports() throws {
        let builder = ScrapeBatchBuilder(target: try target())
        let outcome = try builder.success(try exposition("a 1\nb{x=\"y\"} 2\n"), timestampMs: 100, durationSeconds: 0.25)
        #expect(
            outcome.batch.rendered
                == [
                    #"a{env="dev", instance="h:1", job="app"} 1.0"#,
                    #"b{env="dev", instance="h:1", job="app", x="y"} 2.0"#,
                    #"scrape_duration_seconds{env="dev", instance="h:1", job="app"} 0.25"#,
                    #"scrape_samples_post_metric_relabeling{env="dev", instance="h:1", job="app"} 2.0"#,
                    #"scrape_samples_scraped{env="dev", instance="h:1", job="app"} 2.0"#,
                    #"scrape_series_added{env="dev", instance="h:1", job="app"} 2.0"#,
                    #"up{env="dev", instance="h:1", job="app"} 1.0"#,
                ].sorted())
        #expect(outcome.batch.samples.allSatisfy { $0.timestampMs == 100 })
    }

    @Test func missingSeriesGoStaleAndFailuresMarkEverything() throws {
        var builder = ScrapeBatchBuilder(target: try target())
        let first = try builder.success(try exposition("a 1\nb 2\nc 3\n"), timestampMs: 100, durationSeconds: 0)
        builder.commit(first)
        let second = try builder.success(try exposition("a 1\nd 4\n", at: 200), timestampMs: 200, durationSeconds: 0)
        let stale = second.batch.samples.filter { StaleNaN.isStale($0.value) }
        #expect(Set(stale.map(\.labels.metricName)) == ["b", "c"])
        #expect(stale.allSatisfy { $0.timestampMs == 200 })
        #expect(second.batch.value(#"scrape_series_added{env="dev", instance="h:1", job="app"}"#) == 1)
        builder.commit(second)
        let failed = builder.failure(timestampMs: 300, durationSeconds: 0.5)
        #expect(Set(failed.batch.samples.filter { StaleNaN.isStale($0.value) }.map(\.labels.metricName)) == ["a", "d"])
        #expect(failed.batch.value(#"up{env="dev", instance="h:1", job="app"}"#) == 0)
        builder.commit(failed)
        // After a failure nothing is tracked: the next failure has no markers.
        #expect(builder.failure(timestampMs: 400, durationSeconds: 0).staleMarkers == 0)
    }

    @Test func uncommittedOutcomesDoNotChangeTracking() throws {
        var builder = ScrapeBatchBuilder(target: try target())
        builder.commit(try builder.success(try exposition("a 1\n"), timestampMs: 100, durationSeconds: 0))
        _ = try builder.success(try exposition("b 1\n"), timestampMs: 200, durationSeconds: 0)  // The sink failed.
        let third = try builder.success(try exposition("b 1\n"), timestampMs: 300, durationSeconds: 0)
        #expect(third.staleMarkers == 1)
    }

    @Test func honorLabelsFalseRenamesConflicts() throws {
        let builder = ScrapeBatchBuilder(target: try target())
        let outcome = try builder.success(
            try exposition(#"m{job="other",instance="x",exported_job="taken"} 1"#), timestampMs: 1, durationSeconds: 0)
        #expect(
            outcome.batch.samples.first?.labels.description
                == #"m{env="dev", exported_exported_job="other", exported_instance="x", exported_job="taken", instance="h:1", job="app"}"#)
    }

    @Test func honorLabelsTrueKeepsScrapedValues() throws {
        let builder = ScrapeBatchBuilder(target: try target(ScrapeConfig(jobName: "app", honorLabels: true)))
        let outcome = try builder.success(try exposition(#"m{job="other",instance="x"} 1"#), timestampMs: 1, durationSeconds: 0)
        #expect(outcome.batch.samples.first?.labels.description == #"m{env="dev", instance="x", job="other"}"#)
        // Report series always carry the target's labels.
        #expect(outcome.batch.value(#"up{env="dev", instance="h:1", job="app"}"#) == 1)
    }

    /// Metric relabeling that drops `go_*` samples and the `env` label.
    private static let droppingGoAndEnv = ScrapeConfig(
        jobName: "app",
        metricRelabelConfigs: [
            RelabelConfig(action: .drop, sourceLabels: ["__name__"], regex: "go_.*"), RelabelConfig(action: .labelDrop, regex: "env"),
        ])

    @Test func metricRelabelingDropsAndRewrites() throws {
        let builder = ScrapeBatchBuilder(target: try target(Self.droppingGoAndEnv))
        let outcome = try builder.success(try exposition("go_goroutines 8\ngo_threads 9\nup_time 3\n"), timestampMs: 1, durationSeconds: 0)
        #expect(outcome.batch.value(#"up_time{instance="h:1", job="app"}"#) == 3)
        #expect(outcome.batch.value(#"scrape_samples_scraped{env="dev", instance="h:1", job="app"}"#) == 3)
        #expect(outcome.batch.value(#"scrape_samples_post_metric_relabeling{env="dev", instance="h:1", job="app"}"#) == 1)
    }

    /// An exemplar goes into its sample's stored series, and away with a sample relabeling or de-duplication drops.
    @Test func exemplarsFollowTheirSamples() throws {
        let builder = ScrapeBatchBuilder(target: try target(Self.droppingGoAndEnv))
        let text = """
            go_gc_total 1 # {trace_id="dropped"} 1
            rpc_total 2 # {trace_id="kept"} 1 0.05
            rpc_total 3 # {trace_id="duplicate"} 1
            plain 4
            rpc_bucket{le="1"} 5 # {trace_id="bucket"} 0.5
            # EOF
            """
        let outcome = try builder.success(try PrometheusTextParser.parse(text, defaultTimestampMs: 100), timestampMs: 100, durationSeconds: 0)
        #expect(outcome.batch.exemplars.map { "\($0.series) \($0.labels) \($0.timestampMs)" } == [
            #"rpc_total{instance="h:1", job="app"} {trace_id="kept"} 50"#,
            #"rpc_bucket{instance="h:1", job="app", le="1"} {trace_id="bucket"} 100"#,
        ])
    }

    @Test func explicitTimestampsAreNotTrackedForStaleness() throws {
        var builder = ScrapeBatchBuilder(target: try target())
        builder.commit(try builder.success(try exposition("a 1 50\nb 2\n"), timestampMs: 100, durationSeconds: 0))
        #expect(builder.previousSeries.map(\.metricName) == ["b"])
        let next = try builder.success(try exposition("c 1\n"), timestampMs: 200, durationSeconds: 0)
        #expect(next.batch.samples.filter { StaleNaN.isStale($0.value) }.map(\.labels.metricName) == ["b"])
    }

    @Test func duplicateSeriesKeepTheFirstSample() throws {
        let builder = ScrapeBatchBuilder(target: try target())
        let outcome = try builder.success(try exposition("a 1\na 2\n"), timestampMs: 1, durationSeconds: 0)
        #expect(outcome.batch.samples.filter { $0.labels.metricName == "a" }.map(\.value) == [1])
    }

    @Test func sampleLimit() throws {
        let builder = ScrapeBatchBuilder(target: try target(ScrapeConfig(jobName: "app", sampleLimit: 1)))
        #expect(throws: SightlineError.self) { try builder.success(try exposition("a 1\nb 2\n"), timestampMs: 1, durationSeconds: 0) }
    }

    @Test func endOfRunMarksReportSeriesToo() throws {
        var builder = ScrapeBatchBuilder(target: try target())
        builder.commit(try builder.success(try exposition("a 1\n"), timestampMs: 100, durationSeconds: 0))
        let end = builder.endOfRun(timestampMs: 500)
        #expect(end.batch.samples.count == 6)
        #expect(end.batch.samples.allSatisfy { StaleNaN.isStale($0.value) && $0.timestampMs == 500 })
    }
}
