import Testing

@testable import SightlineCore

struct TenantBatchBinaryTests {
    private let tenant = Tenant(uncheckedID: "acme")

    private var log: LogRecord {
        LogRecord(
            timeUnixNano: 1_700_000_000_123_456_789, observedTimeUnixNano: 1_700_000_000_200_000_000, severityNumber: 17,
            severityText: "ERROR", body: .keyValueList([Attribute("msg", .string("boom")), Attribute("n", .array([.int(-3), .double(.nan)]))]),
            attributes: [Attribute("bytes", .bytes([0, 255])), Attribute("ok", .bool(false)), Attribute("none", .empty)],
            droppedAttributesCount: 2, flags: 1, traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), eventName: "e",
            resource: [Attribute("service.name", .string("api"))], scope: InstrumentationScope(name: "lib", version: "1.0"),
            stream: Labels(["app": "api", "env": "prod"])
        )
    }

    private func roundTrip(_ batch: TenantBatch) throws -> TenantBatch {
        try TenantBatch(decoding: batch.encoded())
    }

    @Test func logsRoundTrip() throws {
        let batch = TenantBatch(tenant: tenant, batch: .logs([log, LogRecord(body: .string("plain"))]))
        let decoded = try roundTrip(batch)
        // NaN inside the body compares unequal by value, so compare the encodings.
        #expect(decoded.encoded() == batch.encoded())
        guard case .logs(let records) = decoded.batch else {
            Issue.record("not logs")
            return
        }
        #expect(records[0].stream == Labels(["app": "api", "env": "prod"]))
        #expect(records[1].body == .string("plain"))
    }

    @Test func metricsAndSpansRoundTrip() throws {
        let metrics = TenantBatch(
            tenant: tenant,
            batch: .metrics(MetricBatch(
                samples: [MetricSample(labels: Labels(["__name__": "up", "job": "a"]), timestampMs: -5, value: StaleNaN.value)],
                metadata: [MetricMetadata(metricFamily: "up", kind: .gauge, help: "h", unit: "u")]
            ))
        )
        #expect(try roundTrip(metrics) == metrics)
        let span = Span(
            traceID: TraceID(high: 9, low: 8), spanID: SpanID(7), parentSpanID: SpanID(6), name: "GET /", kind: .server,
            startTimeUnixNano: 10, endTimeUnixNano: 20, events: [Span.Event(timeUnixNano: 15, name: "ev")],
            links: [Span.Link(traceID: TraceID(high: 1, low: 1), spanID: SpanID(1))], statusCode: .error, statusMessage: "bad"
        )
        let traces = TenantBatch(tenant: tenant, batch: .traces([span]))
        #expect(try roundTrip(traces) == traces)
    }

    /// Series deletions travel in version 6, after the samples and metadata; batches without any keep version 3.
    @Test func seriesDeletionsRoundTrip() throws {
        let deletions = [
            SeriesDeletion(matchers: [try LabelMatcher("__name__", .equal, "up"), try LabelMatcher("job", .regexNoMatch, "a|b.*")]),
            SeriesDeletion(
                matchers: [try LabelMatcher("instance", .notEqual, ""), try LabelMatcher("env", .regexMatch, "prod")],
                startMs: -1_000, endMs: 1_700_000_000_000),
        ]
        let batch = TenantBatch(
            tenant: tenant,
            batch: .metrics(MetricBatch(
                samples: [MetricSample(labels: Labels(["__name__": "up"]), timestampMs: 1, value: 1)], deletions: deletions)))
        let bytes = batch.encoded()
        #expect(bytes.first == 6)
        let decoded = try TenantBatch(decoding: bytes)
        #expect(decoded == batch)
        guard case .metrics(let metrics) = decoded.batch else {
            Issue.record("not metrics")
            return
        }
        // The regexes compile again: the decoded matchers match as the originals do.
        #expect(metrics.deletions[0].covers(Labels(["__name__": "up", "job": "c"])))
        #expect(!metrics.deletions[0].covers(Labels(["__name__": "up", "job": "bx"])))
        #expect(metrics.deletions[1].startMs == -1_000 && metrics.deletions[1].endMs == 1_700_000_000_000)
        #expect(TenantBatch(tenant: tenant, batch: .metrics(MetricBatch(samples: metrics.samples))).encoded().first == 3)
        for cut in [bytes.count - 1, bytes.count - 3] {
            #expect(throws: SightlineError.self) { try TenantBatch(decoding: Array(bytes.prefix(cut))) }
        }
        var logsInSix = TenantBatch(tenant: tenant, batch: .logs([log])).encoded()
        logsInSix[0] = 6
        #expect(throws: SightlineError.self) { try TenantBatch(decoding: logsInSix) }
    }

    /// Exemplars travel in version 8 after the samples, metadata and (possibly no) deletions, and in version 9 after a
    /// segment-scoped record; batches without any keep their older versions.
    @Test func exemplarsRoundTripInBothForms() throws {
        let series = Labels(["__name__": "rpc_seconds_bucket", "le": "0.5", "job": "api"])
        let samples = [
            MetricSample(labels: series, timestampMs: 1_000, value: 4),
            MetricSample(labels: Labels(["__name__": "up", "job": "api"]), timestampMs: 1_000, value: 1),
        ]
        let exemplars = [
            MetricExemplar(series: series, labels: Labels(["trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"]),
                           timestampMs: 990, value: 0.25),
            MetricExemplar(series: Labels(["__name__": "other_total"]), labels: Labels([]), timestampMs: -5, value: StaleNaN.value),
        ]
        let metadata = [MetricMetadata(metricFamily: "rpc_seconds", kind: .histogram, help: "RPC time", unit: "seconds")]
        for deletions in [[], [SeriesDeletion(matchers: [try LabelMatcher("job", .equal, "old")])]] {
            let batch = TenantBatch(
                tenant: tenant, batch: .metrics(MetricBatch(samples: samples, metadata: metadata, exemplars: exemplars, deletions: deletions)))
            let bytes = batch.encoded()
            #expect(bytes.first == 8)
            let decoded = try TenantBatch(decoding: bytes)
            #expect(decoded == batch)
            guard case .metrics(let metrics) = decoded.batch else {
                Issue.record("not metrics")
                return
            }
            #expect(metrics.exemplars[1].value.bitPattern == StaleNaN.bitPattern)
            for cut in [bytes.count - 1, bytes.count - 9] {
                #expect(throws: SightlineError.self) { try TenantBatch(decoding: Array(bytes.prefix(cut))) }
            }
        }
        // The WAL writer's form: the samples by series number, then the exemplars.
        let scope = WALSeriesScope()
        let first = scoped(samples, refs(for: samples), exemplars: exemplars, scope: scope)
        let second = scoped(samples, refs(for: samples), scope: scope)
        #expect(first.first == 9 && second.first == 4)
        var table: WALSeriesTable? = WALSeriesTable()
        let decoded = try [first, second].map { record in try record.withUnsafeBytes { try TenantBatch(decoding: $0, seriesTable: &table) } }
        #expect(decoded[0].batch == .metrics(MetricBatch(samples: samples, exemplars: exemplars)))
        #expect(decoded[1].batch == .metrics(MetricBatch(samples: samples)))
        #expect(throws: SightlineError.self) { try TenantBatch(decoding: first) }
        var logsInEight = TenantBatch(tenant: tenant, batch: .logs([log])).encoded()
        logsInEight[0] = 8
        #expect(throws: SightlineError.self) { try TenantBatch(decoding: logsInEight) }
    }

    /// Log delete requests travel in version 7, after the records; batches without any keep version 5.
    @Test func logDeletionsRoundTrip() throws {
        var records = LogBatch([log])
        records.deletions = [
            LogDeletion(
                requestID: "0a1b2c3d", query: #"{app="api"} |= "token" != "ok" or "fine" |~ "user=\\d+""#,
                matchers: [try LabelMatcher("app", .equal, "api"), try LabelMatcher("env", .regexMatch, "prod|stage")],
                lineFilters: [
                    try LogDeletion.LineFilter(.contains, ["token"]), try LogDeletion.LineFilter(.notContains, ["ok", "fine"]),
                    try LogDeletion.LineFilter(.regex, ["user=\\d+"]),
                ],
                startNano: 1_700_000_000_000_000_000, endNano: .max, createdAtMs: 1_700_000_000_123),
        ]
        let batch = TenantBatch(tenant: tenant, batch: .logs(records))
        let bytes = batch.encoded()
        #expect(bytes.first == 7)
        let decoded = try TenantBatch(decoding: bytes)
        #expect(decoded.encoded() == bytes)
        guard case .logs(let back) = decoded.batch else {
            Issue.record("not logs")
            return
        }
        #expect(back.deletions == records.deletions && back.count == 1)
        #expect(back.deletions[0].lineFilters[2].passes("login user=42") && !back.deletions[0].lineFilters[2].passes("login"))
        #expect(TenantBatch(tenant: tenant, batch: .logs([log])).encoded().first == 5)
        var metricsInSeven = TenantBatch(tenant: tenant, batch: .metrics(MetricBatch())).encoded()
        metricsInSeven[0] = 7
        #expect(throws: SightlineError.self) { try TenantBatch(decoding: metricsInSeven) }
    }

    @Test func versionOneToThreeLogBatchesStillDecode() throws {
        // Version 5 ends this one-record batch with the stream flag 1 and an empty label set (count 0). Versions 2
        // and 3 wrote the labels without the flag; version 1 wrote no labels at all.
        let version5 = TenantBatch(tenant: tenant, batch: .logs([LogRecord(body: .string("old"))])).encoded()
        #expect(version5[0] == 5 && Array(version5.suffix(2)) == [1, 0])
        for version: UInt8 in [1, 2, 3] {
            var bytes = version5
            bytes.remove(at: bytes.count - 2)
            if version == 1 { bytes.removeLast() }
            bytes[0] = version
            let decoded = try TenantBatch(decoding: bytes)
            guard case .logs(let records) = decoded.batch else {
                Issue.record("not logs")
                return
            }
            #expect(records == [LogRecord(body: .string("old"))])
        }
    }

    /// Version 5 writes a record's stream labels only when they differ from the previous record's.
    @Test func logStreamLabelsAreWrittenOncePerRun() throws {
        let api = Labels(["app": "api", "env": "prod"])
        let db = Labels(["app": "db", "env": "prod"])
        let streams = [api, api, db, db, db, api, Labels([]), Labels([]), api]
        let records = streams.enumerated().map { LogRecord(timeUnixNano: UInt64($0.offset), body: .string("line"), stream: $0.element) }
        let batch = TenantBatch(tenant: tenant, batch: .logs(records))
        let bytes = batch.encoded()
        #expect(try TenantBatch(decoding: bytes) == batch)
        let once = TenantBatch(tenant: tenant, batch: .logs(records.map { var record = $0; record.stream = api; return record })).encoded()
        var labels = ByteWriter()
        labels.writeLabels(api)
        #expect(once.count < bytes.count && bytes.count < once.count + 4 * labels.bytes.count)
        // The last record (after a run of unlabelled ones) names its stream again; flags are 0 or 1, and the first
        // record must name its stream.
        var refused = bytes
        let flagAt = bytes.count - labels.bytes.count - 1
        #expect(refused[flagAt] == 1)
        refused[flagAt] = 7
        let badFlag = #expect(throws: SightlineError.self) { try TenantBatch(decoding: refused) }
        #expect(badFlag?.message == "unknown log stream flag 7")
        let lone = TenantBatch(tenant: tenant, batch: .logs([records[0]])).encoded()
        var unnamed = lone
        unnamed.removeLast(labels.bytes.count)
        unnamed[unnamed.count - 1] = 0
        let noStream = #expect(throws: SightlineError.self) { try TenantBatch(decoding: unnamed) }
        #expect(noStream?.message == "the first log record of a batch names no stream")
    }

    /// Samples of series that share label prefixes in every way front coding meets: equal series in a row, a series
    /// that is a prefix of the next, names of different lengths, empty label sets are not valid but long values are.
    private var frontCodingSamples: [MetricSample] {
        var generator = SystemRandomNumberGenerator()
        var samples: [MetricSample] = []
        let names = ["node_cpu_seconds_total", "node_cpu_seconds", "node_memory_MemFree_bytes", "up", "u"]
        for index in 0..<500 {
            let name = names[Int.random(in: 0..<names.count, using: &generator)]
            var labels: KeyValuePairs<String, String> = ["__name__": name]
            switch Int.random(in: 0..<4, using: &generator) {
            case 0: labels = ["__name__": name, "cpu": "\(index % 3)", "mode": ["idle", "user"][index % 2]]
            case 1: labels = ["__name__": name, "cpu": "\(index % 3)"]
            case 2: labels = ["__name__": name, "instance": String(repeating: "h", count: index % 300)]
            default: break
            }
            let repeats = Int.random(in: 1...3, using: &generator)
            for step in 0..<repeats {
                samples.append(MetricSample(labels: Labels(labels), timestampMs: Int64(index * 10 + step), value: Double(index)))
            }
        }
        return samples
    }

    @Test func metricLabelsAreFrontCodedAndDecodeExactly() throws {
        let samples = frontCodingSamples
        let batch = TenantBatch(tenant: tenant, batch: .metrics(MetricBatch(samples: samples)))
        let decoded = try roundTrip(batch)
        #expect(decoded == batch)
        // Well under the labels written out in full (the samples share less than real series do).
        let plain = samples.reduce(0) { total, sample in
            var writer = ByteWriter()
            writer.writeLabels(sample.labels)
            return total + writer.bytes.count + 10
        }
        #expect(batch.encoded().count < plain * 3 / 4)
    }

    @Test func versionTwoMetricBatchesStillDecode() throws {
        // Version 2 wrote every sample's labels in full: count, names and values.
        let samples = Array(frontCodingSamples.prefix(50))
        var writer = ByteWriter()
        writer.writeByte(2)
        writer.writeByte(Signal.metrics.rawValue)
        writer.writeString(tenant.id)
        writer.writeVarint(UInt64(samples.count))
        for sample in samples {
            writer.writeLabels(sample.labels)
            writer.writeSignedVarint(sample.timestampMs)
            writer.writeDouble(sample.value)
        }
        writer.writeVarint(0)
        #expect(try TenantBatch(decoding: writer.bytes) == TenantBatch(tenant: tenant, batch: .metrics(MetricBatch(samples: samples))))
    }

    @Test func frontCodingPastThePreviousValueIsRefused() {
        /// A version-3 metrics batch of one sample whose labels are `shared` bytes of a previous value, then `rest`.
        func batch(shared: UInt64, rest: [UInt8]) -> [UInt8] {
            var writer = ByteWriter()
            writer.writeByte(3)
            writer.writeByte(Signal.metrics.rawValue)
            writer.writeString(tenant.id)
            writer.writeVarint(1)
            writer.writeVarint(shared)
            writer.writeBytes(rest)
            writer.writeSignedVarint(1)
            writer.writeDouble(1)
            writer.writeVarint(0)
            return writer.bytes
        }
        // Sharing 5 bytes with a previous sample that does not exist.
        #expect(throws: SightlineError.self) { try TenantBatch(decoding: batch(shared: 5, rest: [])) }
        // Label bytes that do not parse as labels.
        #expect(throws: SightlineError.self) { try TenantBatch(decoding: batch(shared: 0, rest: [5, 1])) }
    }

    @Test func damagedBytesAreRefused() {
        let bytes = TenantBatch(tenant: tenant, batch: .logs([log])).encoded()
        for cut in [1, 2, bytes.count / 2, bytes.count - 1] {
            #expect(throws: SightlineError.self) { try TenantBatch(decoding: Array(bytes.prefix(cut))) }
        }
        var unknownVersion = bytes
        unknownVersion[0] = 9
        #expect(throws: SightlineError.self) { try TenantBatch(decoding: unknownVersion) }
    }

    // MARK: The WAL writer's segment-scoped metrics records (version 4)

    /// Series numbers of one store (owner 1): one per distinct label set of `samples`, from 1 in order of first
    /// appearance, with the samples of `unheld` left without one (series a store does not hold yet).
    private func refs(for samples: [MetricSample], unheld: (Int) -> Bool = { _ in false }) -> SeriesRefs {
        var byLabels: [Labels: UInt32] = [:]
        return SeriesRefs(owner: 1, ids: samples.indices.map { index in
            if unheld(index) { return 0 }
            if let id = byLabels[samples[index].labels] { return id }
            let id = UInt32(byLabels.count + 1)
            byLabels[samples[index].labels] = id
            return id
        })
    }

    private func scoped(_ samples: [MetricSample], _ refs: SeriesRefs, exemplars: [MetricExemplar] = [], scope: WALSeriesScope) -> [UInt8] {
        var writer = ByteWriter()
        TenantBatch(tenant: tenant, batch: .metrics(MetricBatch(samples: samples, exemplars: exemplars, seriesRefs: refs)))
            .encode(into: &writer, scope: scope)
        return writer.bytes
    }

    private func decode(_ records: [[UInt8]], table: inout WALSeriesTable?) throws -> [MetricSample] {
        var samples: [MetricSample] = []
        for record in records {
            let batch = try record.withUnsafeBytes { try TenantBatch(decoding: $0, seriesTable: &table) }
            guard case .metrics(let metrics) = batch.batch, batch.tenant == tenant else {
                Issue.record("not a metrics batch of the tenant")
                return samples
            }
            samples += metrics.samples
        }
        return samples
    }

    @Test func segmentScopedRecordsNameSeriesDefinedEarlierInTheSegment() throws {
        // Series in shuffled order, repeated, with some samples of series the store does not hold, times that go
        // back and forth, and special values.
        var generator = SystemRandomNumberGenerator()
        let series = frontCodingSamples.map(\.labels)
        let values: [Double] = [0, -0.0, .infinity, -.infinity, StaleNaN.value, 1e300, -3.25]
        var requests: [[MetricSample]] = []
        for request in 0..<6 {
            var samples: [MetricSample] = []
            for labels in series.shuffled(using: &generator).prefix(300) {
                let t = Int64(request) * 15_000 + Int64.random(in: -3...3, using: &generator)
                samples.append(MetricSample(labels: labels, timestampMs: request == 3 ? -t : t, value: values.randomElement(using: &generator)!))
            }
            requests.append(samples)
        }
        let scope = WALSeriesScope()
        let all = requests.flatMap { $0 }
        let allRefs = refs(for: all, unheld: { $0 % 17 == 0 })
        var records: [[UInt8]] = []
        var start = 0
        for request in requests {
            records.append(scoped(request, SeriesRefs(owner: 1, ids: Array(allRefs.ids[start..<start + request.count])), scope: scope))
            start += request.count
        }
        var table: WALSeriesTable? = WALSeriesTable()
        let decoded = try decode(records, table: &table)
        #expect(decoded.count == all.count)
        for (got, want) in zip(decoded, all) {
            #expect(got.labels == want.labels && got.timestampMs == want.timestampMs && got.value.bitPattern == want.value.bitPattern)
        }
        // Later records name their series: far smaller than the self-contained encoding of the same samples.
        let laterBytes = records.dropFirst().reduce(0) { $0 + $1.count }
        let plainBytes = requests.dropFirst().reduce(0) { $0 + TenantBatch(tenant: tenant, batch: .metrics(MetricBatch(samples: $1))).encoded().count }
        #expect(laterBytes < plainBytes / 2)
        // Read alone (outside replay, or without the record that defined its series), a record is refused.
        #expect(throws: SightlineError.self) { try TenantBatch(decoding: records[1]) }
        var fresh: WALSeriesTable? = WALSeriesTable()
        #expect(throws: SightlineError.self) { try decode([records[1]], table: &fresh) }
    }

    @Test func aNewSegmentOrALostWriteDefinesSeriesAgain() throws {
        let samples = Array(frontCodingSamples.prefix(40))
        let sampleRefs = refs(for: samples)
        let scope = WALSeriesScope()
        let first = scoped(samples, sampleRefs, scope: scope)
        // The next segment: its records define their series again and read without the previous segment's.
        scope.startSegment()
        let second = scoped(samples, sampleRefs, scope: scope)
        #expect(second == first)
        var table: WALSeriesTable? = WALSeriesTable()
        #expect(try decode([second], table: &table).map(\.labels) == samples.map(\.labels))
        // A written record, then one that never reached the segment, then one after it: the lost record's
        // definitions are made again under new numbers, and the segment still reads.
        let moreSamples = Array(frontCodingSamples.dropFirst(40).prefix(40))
        // Another store's series (owner 2), numbered from 1 like the first store's: named apart.
        let moreRefs = SeriesRefs(owner: 2, ids: refs(for: moreSamples).ids)
        _ = scoped(moreSamples, moreRefs, scope: scope)
        scope.forgetUnwritten()
        let third = scoped(moreSamples, moreRefs, scope: scope)
        let fourth = scoped(samples, sampleRefs, scope: scope)
        #expect(try decode([second, third, fourth], table: &table).map(\.labels) == (samples + moreSamples + samples).map(\.labels))
    }

    @Test func damagedSegmentScopedRecordsAreRefused() {
        let samples = Array(frontCodingSamples.prefix(20))
        let record = scoped(samples, refs(for: samples), scope: WALSeriesScope())
        for cut in [1, 3, record.count / 2, record.count - 1] {
            var table: WALSeriesTable? = WALSeriesTable()
            #expect(throws: SightlineError.self) { try decode([Array(record.prefix(cut))], table: &table) }
        }
        /// A version 4 record of one sample whose series key is `key`.
        func oneSample(key: UInt64, signal: Signal = .metrics) -> [UInt8] {
            var writer = ByteWriter()
            writer.writeByte(4)
            writer.writeByte(signal.rawValue)
            writer.writeString(tenant.id)
            writer.writeVarint(1)
            writer.writeVarint(key)
            writer.writeSignedVarint(1)
            writer.writeDouble(1)
            writer.writeVarint(0)
            return writer.bytes
        }
        for bytes in [oneSample(key: 3), oneSample(key: 0), oneSample(key: 2 << 2 | 0), oneSample(key: 0, signal: .logs)] {
            var table: WALSeriesTable? = WALSeriesTable()
            #expect(throws: SightlineError.self) { try decode([bytes], table: &table) }
        }
    }
}
