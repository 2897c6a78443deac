import Foundation
import Logging
import SightlineTSDB
import SightlineTestSupport
import Testing

@testable import SightlineClickHouse
@testable import SightlineCore
@testable import SightlineQuery

/// Runs synchronous store and query calls on a thread of their own: the stores block on ClickHouse, which must not
/// happen on Swift's cooperative pool.
private func metricOffPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result<T, any Error> { try body() }) }
    }
}

/// A PromQL result as text, values by bit pattern (so NaNs compare), instant vectors in label order.
private func metricCanonical(_ result: PromQLResult) -> String {
    func value(_ v: Double) -> String { "\(v)/\(String(v.bitPattern, radix: 16))" }
    var lines: [String] = []
    switch result.value {
    case .scalar(let t, let v): lines.append("scalar \(t) \(value(v))")
    case .string(let t, let v): lines.append("string \(t) \(v)")
    case .vector(let samples):
        lines += samples.map { "\($0.metric) \($0.t) \(value($0.v))" }.sorted()
    case .matrix(let series):
        for one in series { lines.append("\(one.metric): " + one.points.map { "\($0.t)=\(value($0.v))" }.joined(separator: " ")) }
    }
    lines += result.warnings.map { "warning: \($0)" } + result.infos.map { "info: \($0)" }
    return lines.joined(separator: "\n")
}

/// Selected series as text, values by bit pattern.
private func metricCanonical(_ series: [SeriesSamples]) -> String {
    series.map { one in
        "\(one.labels): " + zip(one.timestampsMs, one.values).map { "\($0)=\(String($1.bitPattern, radix: 16))" }.joined(separator: " ")
    }.joined(separator: "\n")
}

/// A metrics batch of `tenant`.
private func metricBatch(_ samples: [MetricSample], metadata: [MetricMetadata] = [], tenant: Tenant = .default) -> TenantBatch {
    TenantBatch(tenant: tenant, batch: .metrics(MetricBatch(samples: samples, metadata: metadata)))
}

private func metricLabels(_ pairs: [(String, String)]) -> Labels { Labels(pairs.map { Label($0.0, $0.1) }) }

/// The seeded data both stores receive: batches in time order, one per scrape, each with its WAL position.
private struct MetricData {
    static let alpha = Tenant(uncheckedID: "alpha")
    static let beta = Tenant(uncheckedID: "beta")
    /// A UTC midnight: the data runs from an hour before it to an hour after, so it spans two days.
    static let midnight: Int64 = 1_764_115_200_000
    static let start = midnight - 3_600_000
    static let end = midnight + 3_600_000
    static let step: Int64 = 15_000
    /// When the `room="lab"` gauge gets its staleness marker (and ends).
    static let staleAt = midnight + 600_000

    var batches: [(TenantBatch, WALPosition)] = []

    init(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let paths = ["/v1/users", "/v1/users.list", "/v1/usersXlist", "a+b", "x|y", "/v1/(x)", "/v2/ü"]
        var counters: [(Tenant, Labels, Int64, Double)] = []  // tenant, labels, time jitter, value
        for path in paths {
            for code in ["200", "500", ""] {
                for instance in ["a:80", "b:80"] where random.next() % 3 != 0 {
                    var pairs = [("__name__", "http_requests_total"), ("job", "api"), ("instance", instance), ("path", path)]
                    if !code.isEmpty { pairs.append(("code", code)) }
                    counters.append((Self.alpha, metricLabels(pairs), Int64(random.next() % 500), 0))
                }
            }
        }
        counters.append((Self.beta, metricLabels([("__name__", "http_requests_total"), ("job", "batch"), ("code", "200")]), 7, 0))
        counters.append((Self.beta, metricLabels([("__name__", "http_requests_total"), ("job", "api"), ("path", "/v1/users")]), 0, 0))
        let bounds = ["0.1", "0.5", "1", "+Inf"]
        var buckets = [Double](repeating: 0, count: bounds.count)
        var offset: Int64 = 0
        var segment = 0
        let count = Int((Self.end - Self.start) / Self.step) + 1
        for index in 0..<count {
            let time: Int64 = Self.start + Int64(index) * Self.step
            var alpha: [MetricSample] = []
            var beta: [MetricSample] = []
            for i in counters.indices {
                counters[i].3 += Double(random.next() % 20)
                // A counter reset now and then, as a restarted target gives.
                if random.next() % 97 == 0 { counters[i].3 = 0 }
                let sample = MetricSample(labels: counters[i].1, timestampMs: time + counters[i].2, value: counters[i].3)
                if counters[i].0 == Self.alpha { alpha.append(sample) } else { beta.append(sample) }
            }
            // A small cumulative histogram.
            var running = 0.0
            for b in bounds.indices {
                running += Double(random.next() % 5)
                buckets[b] = max(buckets[b], 0) + running
            }
            for (b, bound) in bounds.enumerated() {
                let bucket = metricLabels([("__name__", "req_duration_seconds_bucket"), ("le", bound)])
                alpha.append(MetricSample(labels: bucket, timestampMs: time, value: buckets[b]))
            }
            // Gauges: one gets a staleness marker and ends, one goes NaN (a real NaN, not a marker) once.
            if time <= Self.staleAt {
                let value = time == Self.staleAt ? StaleNaN.value : 20 + Double(random.next() % 100) / 10
                alpha.append(MetricSample(labels: metricLabels([("__name__", "temperature"), ("room", "lab")]), timestampMs: time, value: value))
            }
            let office = index == 100 ? Double.nan : 18 + Double(random.next() % 100) / 10
            alpha.append(MetricSample(labels: metricLabels([("__name__", "temperature"), ("room", "office")]), timestampMs: time, value: office))
            beta.append(MetricSample(labels: metricLabels([("__name__", "temperature"), ("room", "cellar")]), timestampMs: time, value: Double(index % 7)))
            var metadata: [MetricMetadata] = []
            if index == 0 {
                metadata = [
                    MetricMetadata(metricFamily: "http_requests_total", kind: .counter, help: "Requests."),
                    MetricMetadata(metricFamily: "temperature", kind: .gauge, help: "Air temperature", unit: "celsius"),
                ]
            } else if index == 200 {
                metadata = [MetricMetadata(metricFamily: "http_requests_total", kind: .counter, help: "Requests served, by path.")]
            }
            if index % 40 == 0 { segment += 1; offset = 0 }
            batches.append((metricBatch(alpha, metadata: metadata, tenant: Self.alpha), WALPosition(segment: segment, offset: offset)))
            offset += 1000
            batches.append((metricBatch(beta, tenant: Self.beta), WALPosition(segment: segment, offset: offset)))
            offset += 1000
        }
    }
}

@Suite(needsClickHouse) struct ClickHouseMetricStoreTests {
    /// Applies batches the way the pipeline does: admit, then apply; persists at each new segment, so the embedded
    /// engine holds both blocks and a head.
    func write(_ batches: [(TenantBatch, WALPosition)], into store: some SignalStore) async throws {
        var lastSegment = -1
        for (batch, position) in batches {
            if position.segment != lastSegment && lastSegment >= 0 && position.segment % 3 == 0 {
                try await store.persist(throughSegment: lastSegment)
            }
            lastSegment = position.segment
            let admission = store.admit(batch)
            #expect(admission.rejected == 0, "\(admission.message)")
            try store.apply(TenantBatch(tenant: batch.tenant, batch: admission.batch), at: position)
        }
    }

    @Test func promQLAnswersMatchTheEmbeddedEngine() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-metrics")
        let data = MetricData(seed: 0x5EED_11)
        let tsdb = try TSDB(directory: directory.file("tsdb"), logger: Logger(label: "test.ch.metrics"))
        let store = try await ClickHouseMetricStore(client: client, checkpointDirectory: directory.file("ch"))
        try await write(data.batches, into: tsdb)
        try await write(data.batches, into: store)
        try await store.flush()

        let embedded = PromQLEngine(querier: tsdb)
        let clickHouse = PromQLEngine(querier: store)
        let queries = [
            "http_requests_total", #"http_requests_total{code="200"}"#, #"http_requests_total{code!="200"}"#,
            #"http_requests_total{code=""}"#, #"http_requests_total{path=~"/v1/users\\.list|a\\+b"}"#,
            #"http_requests_total{path=~"x\\|y|/v1/\\(x\\)"}"#, #"http_requests_total{path!~"/v1/.*"}"#,
            #"http_requests_total{path=~"/v2/.+"}"#, #"{__name__=~"http_.*|temp.*", job!="batch"}"#,
            #"{__name__!~"http.*|req.*", room=~".+"}"#, #"{code=~"2.."}"#, #"{code=~"5..|", job="api"}"#, "rate(http_requests_total[5m])",
            "sum by (code) (rate(http_requests_total[5m]))", "sum by (path, instance) (increase(http_requests_total[10m]))",
            "histogram_quantile(0.9, sum by (le) (rate(req_duration_seconds_bucket[5m])))",
            "temperature", "max_over_time(temperature[10m])", "count(temperature)", "nonexistent_metric",
        ]
        let instants = [MetricData.start + 600_000, MetricData.midnight - 1, MetricData.midnight, MetricData.staleAt,
                        MetricData.staleAt + 30_000, MetricData.end]
        for tenant in [MetricData.alpha, MetricData.beta, Tenant(uncheckedID: "nobody")] {
            for query in queries {
                let (want, got) = try await metricOffPool {
                    var want: [String] = []
                    var got: [String] = []
                    for time in instants {
                        want.append(metricCanonical(try embedded.instantQuery(query, tenant: tenant, timeMs: time)))
                        got.append(metricCanonical(try clickHouse.instantQuery(query, tenant: tenant, timeMs: time)))
                    }
                    let (start, end) = (MetricData.start, MetricData.end)
                    want.append(metricCanonical(try embedded.rangeQuery(query, tenant: tenant, startMs: start, endMs: end, stepMs: 60_000)))
                    got.append(metricCanonical(try clickHouse.rangeQuery(query, tenant: tenant, startMs: start, endMs: end, stepMs: 60_000)))
                    return (want, got)
                }
                #expect(want == got, "\(tenant) \(query)")
                if tenant == MetricData.alpha && query != "nonexistent_metric" { #expect(want.contains { !$0.isEmpty }, "\(query) found nothing") }
            }
        }

        // The store-protocol calls answer the same, including the staleness marker's exact bits and a cut range.
        let matcherSets: [[LabelMatcher]] = [
            [try LabelMatcher("__name__", .equal, "temperature")],
            [try LabelMatcher("__name__", .regexMatch, ".+"), try LabelMatcher("path", .regexNoMatch, "/v1/users")],
            [try LabelMatcher("code", .equal, "")], [try LabelMatcher("job", .notEqual, "api")], [],
        ]
        for tenant in [MetricData.alpha, MetricData.beta] {
            for matchers in matcherSets {
                let answers = try await metricOffPool {
                    let ranges = [(MetricData.start, MetricData.end), (MetricData.midnight - 60_000, MetricData.midnight + 60_000)]
                    var answers: [[String]] = []
                    for (s, e) in ranges {
                        var pair: [String] = []
                        for querier in [tsdb, store] as [any MetricQuerier] {
                            let names = try querier.labelNames(tenant: tenant, matchers: matchers, startMs: s, endMs: e)
                            let paths = try querier.labelValues(tenant: tenant, name: "path", matchers: matchers, startMs: s, endMs: e)
                            let metrics = try querier.labelValues(tenant: tenant, name: "__name__", matchers: matchers, startMs: s, endMs: e)
                            let selected = try querier.select(tenant: tenant, matchers: matchers, startMs: s, endMs: e)
                            let lists = [names, paths, metrics].map { $0.joined(separator: ",") }
                            pair.append(([metricCanonical(selected)] + lists).joined(separator: "\n"))
                        }
                        answers.append(pair)
                    }
                    return answers
                }
                for pair in answers { #expect(pair[0] == pair[1], "\(tenant) \(matchers)") }
            }
        }
        let stale = try await metricOffPool {
            try store.select(tenant: MetricData.alpha, matchers: [try LabelMatcher("room", .equal, "lab")], startMs: MetricData.staleAt, endMs: MetricData.end)
        }
        #expect(stale.count == 1 && stale.first?.values.count == 1 && stale.first.map { StaleNaN.isStale($0.values[0]) } == true)

        // Metadata: the newest per family, as the embedded engine keeps it.
        let metadata = try await metricOffPool {
            [
                try tsdb.metadata(tenant: MetricData.alpha, metric: nil), try store.metadata(tenant: MetricData.alpha, metric: nil),
                try tsdb.metadata(tenant: MetricData.alpha, metric: "temperature"),
                try store.metadata(tenant: MetricData.alpha, metric: "temperature"), try store.metadata(tenant: MetricData.beta, metric: nil),
            ]
        }
        #expect(metadata[0] == metadata[1] && metadata[2] == metadata[3] && metadata[4].isEmpty)
        #expect(metadata[1].first?.help == "Requests served, by path.")

        // Tenants are isolated: beta's series never carry alpha's labels.
        let betaPaths = try await metricOffPool {
            try store.labelValues(tenant: MetricData.beta, name: "path", matchers: [], startMs: MetricData.start, endMs: MetricData.end)
        }
        #expect(betaPaths == ["/v1/users"])
        try await cleanUp(client)
        directory.remove()
    }

    @Test func aRestartedStoreSeesItsDataAndCheckpoint() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-metrics")
        let data = MetricData(seed: 7)
        var store = try await ClickHouseMetricStore(client: client, checkpointDirectory: directory.file("ch"))
        #expect(store.persistedSegment == -1)
        let firstHalf = data.batches.filter { $0.1.segment <= 4 }
        try await write(firstHalf, into: store)
        try await store.persist(throughSegment: 4)
        #expect(store.persistedSegment == 4)
        let selectAll = { @Sendable (store: any MetricQuerier) throws -> String in
            let matchers = [try LabelMatcher("__name__", .regexMatch, ".+")]
            return metricCanonical(try store.select(tenant: MetricData.alpha, matchers: matchers, startMs: MetricData.start, endMs: MetricData.end))
        }
        let before = try await metricOffPool { [store] in try selectAll(store) }
        #expect(!before.isEmpty)

        store = try await ClickHouseMetricStore(client: client, checkpointDirectory: directory.file("ch"))
        #expect(store.persistedSegment == 4)
        let reopened = try await metricOffPool { [store] in try selectAll(store) }
        #expect(reopened == before)
        // The pipeline replays segment 4 again, plus what follows: nothing is doubled.
        let tsdb = try TSDB(directory: directory.file("tsdb"), logger: Logger(label: "test.ch.metrics"))
        try await write(data.batches, into: tsdb)
        try await write(data.batches.filter { $0.1.segment >= 4 }, into: store)
        try await store.persist(throughSegment: 100)
        let (want, got) = try await metricOffPool { [store] in (try selectAll(tsdb), try selectAll(store)) }
        #expect(want == got)
        let seriesRows = try await client.query("SELECT count() FROM metric_series FORMAT TabSeparated")
        #expect(Int(String(decoding: seriesRows, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 > 0)
        #expect(try await ClickHouseMetricStore(client: client, checkpointDirectory: directory.file("ch")).persistedSegment == 100)
        #expect(try await ClickHouseMetricStore(client: client, checkpointDirectory: directory.file("other")).persistedSegment == -1)
        try await cleanUp(client)
        directory.remove()
    }

    @Test func duplicatesCollapseToTheLastWriteInWALOrder() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-metrics")
        let store = try await ClickHouseMetricStore(client: client, checkpointDirectory: directory.file("ch"))
        let series = metricLabels([("__name__", "g"), ("a", "1")])
        func batch(_ samples: [(Int64, Double)]) -> TenantBatch {
            TenantBatch(tenant: .default, batch: .metrics(MetricBatch(samples: samples.map { MetricSample(labels: series, timestampMs: $0.0, value: $0.1) })))
        }
        // Inside one request: an identical duplicate is dropped, a conflicting one refused.
        let admission = store.admit(batch([(1000, 1), (1000, 1), (1000, 2), (2000, 5)]))
        #expect(admission.rejections == ["duplicate_sample": 1] && admission.batch.recordCount == 2)
        #expect(admission.message.contains("g{a=\"1\"}") || admission.message.contains("a=\"1\""))
        try store.apply(TenantBatch(tenant: .default, batch: admission.batch), at: WALPosition(segment: 0, offset: 0))
        try await store.flush()
        // A replay of the same record, then a later write at the same time with another value.
        try store.apply(TenantBatch(tenant: .default, batch: admission.batch), at: WALPosition(segment: 0, offset: 0))
        try store.apply(batch([(1000, 3), (3000, 4)]), at: WALPosition(segment: 1, offset: 0))
        try await store.persist(throughSegment: 1)
        let selected = try await metricOffPool {
            try store.select(tenant: .default, matchers: [try LabelMatcher("__name__", .equal, "g")], startMs: 0, endMs: 10_000)
        }
        #expect(selected.count == 1)
        #expect(selected.first?.timestampsMs == [1000, 2000, 3000] && selected.first?.values == [3, 5, 4])
        // Merging the parts keeps the same answer.
        try await client.execute("OPTIMIZE TABLE metric_samples FINAL")
        let merged = try await client.query("SELECT ts, value FROM metric_samples FINAL ORDER BY ts FORMAT TabSeparated")
        #expect(String(decoding: merged, as: UTF8.self) == "1000\t3\n2000\t5\n3000\t4\n")
        try await cleanUp(client)
        directory.remove()
    }

    /// Exemplars: kept per series and millisecond (the last write in WAL order winning), selected by any selector,
    /// sorted by series; too long label sets are left out; retention drops their days.
    @Test func exemplarsAreKeptAndSelectedByAnySelector() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-metrics")
        let store = try await ClickHouseMetricStore(client: client, checkpointDirectory: directory.file("ch"))
        let today = MetricData.midnight
        let bucket = metricLabels([("__name__", "rpc_seconds_bucket"), ("le", "0.5")])
        let counter = metricLabels([("__name__", "rpc_total")])
        func exemplar(_ series: Labels, _ t: Int64, _ trace: String, _ value: Double = 0.25) -> MetricExemplar {
            MetricExemplar(series: series, labels: metricLabels([("trace_id", trace)]), timestampMs: t, value: value)
        }
        let tooLong = MetricExemplar(
            series: counter, labels: metricLabels([("trace_id", String(repeating: "x", count: 200))]), timestampMs: today + 3, value: 1)
        let first = MetricBatch(
            samples: [MetricSample(labels: bucket, timestampMs: today + 10, value: 1)],
            exemplars: [exemplar(bucket, today + 1, "a"), exemplar(counter, today - 5, "b", 1), tooLong, exemplar(bucket, today + 2, "c")])
        let admitted = store.admit(TenantBatch(tenant: .default, batch: .metrics(first)))
        try store.apply(TenantBatch(tenant: .default, batch: admitted.batch), at: WALPosition(segment: 0, offset: 0))
        // A later write of the same series and time replaces it.
        try store.apply(
            TenantBatch(tenant: .default, batch: .metrics(MetricBatch(exemplars: [exemplar(bucket, today + 2, "d", 0.5)]))),
            at: WALPosition(segment: 1, offset: 0))
        try await store.persist(throughSegment: 1)
        let selectors: [[LabelMatcher]] = [[try LabelMatcher("__name__", .equal, "rpc_total")], [try LabelMatcher("le", .equal, "0.5")]]
        let found = try await metricOffPool {
            try store.exemplars(tenant: .default, selectors: selectors, startMs: today - 10, endMs: today + 10)
        }
        #expect(found == [
            SeriesExemplars(series: bucket, exemplars: [exemplar(bucket, today + 1, "a"), exemplar(bucket, today + 2, "d", 0.5)]),
            SeriesExemplars(series: counter, exemplars: [exemplar(counter, today - 5, "b", 1)]),
        ])
        let narrow = try await metricOffPool {
            try store.exemplars(tenant: .default, selectors: [selectors[0]], startMs: today, endMs: today + 10)
        }
        #expect(narrow.isEmpty)
        let otherTenant = try await metricOffPool {
            try store.exemplars(tenant: MetricData.beta, selectors: selectors, startMs: .min, endMs: .max)
        }
        #expect(otherTenant.isEmpty)
        let dropped = try await store.dropPartitions(olderThan: today)
        #expect(dropped.contains("metric_exemplars:2025-11-25"))
        let afterRetention = try await metricOffPool {
            try store.exemplars(tenant: .default, selectors: selectors, startMs: today - 10, endMs: today + 10)
        }
        #expect(afterRetention.map(\.series) == [bucket])
        try await cleanUp(client)
        directory.remove()
    }

    /// `delete_series` on ClickHouse: the samples and exemplars of the matching series in the range go (buffered rows
    /// included), the others stay, and samples written after the deletion are kept.
    @Test func deletionsRemoveTheSamplesOfMatchingSeriesInTheirRange() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-metrics")
        let store = try await ClickHouseMetricStore(client: client, checkpointDirectory: directory.file("ch"))
        let t = MetricData.midnight
        let gone = metricLabels([("__name__", "m"), ("host", "a")])
        let kept = metricLabels([("__name__", "m"), ("host", "b")])
        var samples: [MetricSample] = []
        for i in 0..<6 {
            samples.append(MetricSample(labels: gone, timestampMs: t + Int64(i) * 1000, value: Double(i)))
            samples.append(MetricSample(labels: kept, timestampMs: t + Int64(i) * 1000, value: Double(10 + i)))
        }
        let exemplars = [
            MetricExemplar(series: gone, labels: Labels([Label("trace_id", "01")]), timestampMs: t + 2000, value: 2),
            MetricExemplar(series: gone, labels: Labels([Label("trace_id", "02")]), timestampMs: t + 5000, value: 5),
        ]
        try store.apply(TenantBatch(tenant: .default, batch: .metrics(MetricBatch(samples: samples, exemplars: exemplars))), at: WALPosition(segment: 0, offset: 0))
        try await store.persist(throughSegment: 0)
        // A batch still in the writer's buffer is deleted too.
        try store.apply(metricBatch([MetricSample(labels: gone, timestampMs: t + 3500, value: 3.5)]), at: WALPosition(segment: 1, offset: 0))
        let deletion = SeriesDeletion(matchers: [try LabelMatcher("host", .equal, "a")], startMs: t + 1000, endMs: t + 4000)
        try await store.delete(.metrics(MetricBatch(deletions: [deletion])), tenant: .default)
        func select(_ host: String) async throws -> [Double] {
            try await metricOffPool {
                try store.select(tenant: .default, matchers: [try LabelMatcher("host", .equal, host)], startMs: t, endMs: t + 60_000).first?.values ?? []
            }
        }
        #expect(try await select("a") == [0, 5])
        #expect(try await select("b") == [10, 11, 12, 13, 14, 15])
        let left = try await metricOffPool {
            try store.exemplars(tenant: .default, selectors: [[try LabelMatcher("host", .equal, "a")]], startMs: t, endMs: t + 60_000)
        }
        #expect(left.flatMap(\.exemplars).map(\.value) == [5])
        // Written after the deletion, inside its range: kept. Another tenant's series are not touched.
        try store.apply(metricBatch([MetricSample(labels: gone, timestampMs: t + 2000, value: 20)]), at: WALPosition(segment: 2, offset: 0))
        try await store.persist(throughSegment: 2)
        #expect(try await select("a") == [0, 20, 5])
        try await store.delete(.metrics(MetricBatch(deletions: [SeriesDeletion(matchers: [try LabelMatcher("host", .equal, "a")], startMs: .min, endMs: .max)])), tenant: MetricData.alpha)
        #expect(try await select("a") == [0, 20, 5])
        // All time.
        try await store.delete(.metrics(MetricBatch(deletions: [SeriesDeletion(matchers: [try LabelMatcher("__name__", .equal, "m")], startMs: .min, endMs: .max)])), tenant: .default)
        let (a, b) = (try await select("a"), try await select("b"))
        #expect(a.isEmpty && b.isEmpty, "\(a) \(b)")
        try await cleanUp(client)
        directory.remove()
    }

    @Test func retentionDropsWholeOldDays() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-metrics")
        let store = try await ClickHouseMetricStore(client: client, checkpointDirectory: directory.file("ch"))
        let day = ClickHouseMetricStore.msPerDay
        let today = MetricData.midnight
        let old = metricLabels([("__name__", "m"), ("kind", "old")])
        let kept = metricLabels([("__name__", "m"), ("kind", "kept")])
        var samples: [MetricSample] = []
        for back in 0..<3 {
            samples.append(MetricSample(labels: kept, timestampMs: today - Int64(back) * day + 1000, value: Double(back)))
            if back > 0 { samples.append(MetricSample(labels: old, timestampMs: today - Int64(back) * day + 1000, value: Double(back))) }
        }
        samples.sort { $0.timestampMs < $1.timestampMs }
        try store.apply(TenantBatch(tenant: .default, batch: .metrics(MetricBatch(samples: samples))), at: WALPosition(segment: 0, offset: 0))
        try await store.persist(throughSegment: 0)
        let dropped = try await store.dropPartitions(olderThan: today + 5000)
        // Two days of two tables; today stays.
        #expect(dropped == ["metric_samples:2025-11-24", "metric_samples:2025-11-25", "metric_series:2025-11-24", "metric_series:2025-11-25"])
        let (selected, kinds) = try await metricOffPool {
            (try store.select(tenant: .default, matchers: [try LabelMatcher("__name__", .equal, "m")], startMs: 0, endMs: today + day),
             try store.labelValues(tenant: .default, name: "kind", matchers: [], startMs: 0, endMs: today + day))
        }
        #expect(selected.count == 1 && selected.first?.labels == kept && selected.first?.timestampsMs == [today + 1000])
        #expect(kinds == ["kept"])
        // Samples arriving again for a dropped day bring their series row back.
        try store.apply(metricBatch([MetricSample(labels: old, timestampMs: today - day, value: 9)]), at: WALPosition(segment: 1, offset: 0))
        try await store.persist(throughSegment: 1)
        let again = try await metricOffPool {
            try store.select(tenant: .default, matchers: [try LabelMatcher("kind", .equal, "old")], startMs: 0, endMs: today + day)
        }
        #expect(again.first?.values == [9])
        try await cleanUp(client)
        directory.remove()
    }

    @Test func helpersAreExact() {
        #expect(ClickHouseSQL.date(day: 0) == "toDate('1970-01-01')")
        #expect(ClickHouseSQL.date(day: MetricData.midnight / ClickHouseMetricStore.msPerDay) == "toDate('2025-11-26')")
        #expect(ClickHouseMetricStore.day(ofMs: -1) == 0 && ClickHouseMetricStore.day(ofMs: MetricData.midnight - 1) == 20417)
        #expect(ClickHouseSQL.date(day: ClickHouseMetricStore.lastReadableDay) == "toDate('2105-12-31')")
        #expect(ClickHouseSQL.inLists([1, 2, 3], size: 2) == ["1,2", "3"] && ClickHouseSQL.inLists([]).isEmpty)
        // All time: no upper bound past what ClickHouse 18 reads.
        #expect(ClickHouseMetricStore.dayCondition(startMs: .min, endMs: .max) == "day >= toDate('1970-01-01')")
        let a = metricLabels([("__name__", "x"), ("a", "bc")])
        let b = metricLabels([("__name__", "x"), ("ab", "c")])
        #expect(ClickHouseMetricStore.seriesID(a) != ClickHouseMetricStore.seriesID(b))
        #expect(ClickHouseMetricStore.seriesID(a) == ClickHouseMetricStore.seriesID(metricLabels([("a", "bc"), ("__name__", "x")])))
    }
}

/// Failures that need no server, or a server that is not there.
struct ClickHouseMetricStoreFailureTests {
    @Test func anUnreachableServerIsReportedAsUnavailable() async throws {
        let directory = try TemporaryDirectory(prefix: "sightline-ch-metrics")
        let client = try ClickHouseClient(url: "http://127.0.0.1:9")
        let error = await #expect(throws: SightlineError.self) {
            _ = try await ClickHouseMetricStore(client: client, checkpointDirectory: directory.file("ch"))
        }
        #expect(error?.code == .unavailable && error?.message.contains("127.0.0.1:9") == true)
        directory.remove()
    }
}

@Suite(needsClickHouse) struct ClickHouseMetricStoreInputTests {
    @Test func otherSignalsAndAVanishedServerAreRefusedClearly() async throws {
        let client = try await testClient()
        let directory = try TemporaryDirectory(prefix: "sightline-ch-metrics")
        let store = try await ClickHouseMetricStore(client: client, checkpointDirectory: directory.file("ch"))
        let logs = sightlineError { try store.apply(TenantBatch(tenant: .default, batch: .logs([])), at: WALPosition(segment: 0, offset: 0)) }
        #expect(logs?.code == .internal && logs?.message.contains("logs") == true)
        // The tables vanish (another operator dropped the database): inserts fail, the checkpoint does not move, the
        // rows stay buffered.
        let sample = MetricSample(labels: metricLabels([("__name__", "m")]), timestampMs: 1, value: 1)
        try store.apply(metricBatch([sample]), at: WALPosition(segment: 0, offset: 0))
        try await cleanUp(client)
        await #expect(throws: SightlineError.self) { try await store.persist(throughSegment: 0) }
        #expect(store.persistedSegment == -1)
        let query = try await metricOffPool {
            sightlineError { _ = try store.select(tenant: .default, matchers: [try LabelMatcher("__name__", .equal, "m")], startMs: 0, endMs: 10) }
        }
        #expect(query?.code == .invalidArgument && query?.message.contains("metric_") == true)
        directory.remove()
    }
}
