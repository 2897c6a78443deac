package import SightlineCore
import Synchronization

extension Head {
    /// The series matching every matcher, with their samples in `[minTime, maxTime]` ascending; series without a
    /// sample in the range are left out. Sorted by labels.
    ///
    /// The head holds one value per time (see ``Head``); should an out-of-order sample and an in-order one share a
    /// time anyway, the in-order one (the earlier write) is returned. Staleness markers come back bit-exact.
    /// - Throws: `dataCorrupted` when a chunk does not decode (a bug: the head wrote it).
    package func select(matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) throws -> [SeriesSamples] {
        guard minTime <= maxTime else { return [] }
        var result: [SeriesSamples] = []
        for snapshot in snapshots(matchers: matchers, minTime: minTime, maxTime: maxTime) {
            let series = try Self.samples(of: snapshot, minTime: minTime, maxTime: maxTime)
            if !series.timestampsMs.isEmpty { result.append(series) }
        }
        return result
    }

    /// The chunks of the series matching every matcher that overlap `[minTime, maxTime]`: sealed chunks, a snapshot
    /// of the open chunk, and the out-of-order samples in the range as chunks of their own. Chunks are whole (not
    /// trimmed to the range), listed by ascending `minTime`, and may overlap where out-of-order samples are.
    package func selectChunks(matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) -> [SeriesChunks] {
        guard minTime <= maxTime else { return [] }
        return snapshots(matchers: matchers, minTime: minTime, maxTime: maxTime).compactMap { snapshot in
            var chunks = snapshot.inOrder
            if !snapshot.outOfOrderTimes.isEmpty {
                chunks += ChunkCodec.encode(timestamps: snapshot.outOfOrderTimes, values: snapshot.outOfOrderValues)
                chunks.sort { $0.minTime < $1.minTime }
            }
            return chunks.isEmpty ? nil : SeriesChunks(labels: snapshot.labels, chunks: chunks)
        }
    }

    /// The sorted label names of the series matching every matcher (all series when there are none) that have
    /// chunks overlapping `[minTime, maxTime]`.
    package func labelNames(matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) -> [String] {
        var names = Set<String>()
        forEachSeries(matchers: matchers, minTime: minTime, maxTime: maxTime) { labels in
            for label in labels.labels { names.insert(label.name) }
        }
        return names.sorted()
    }

    /// The sorted values of label `name` over the same series as ``labelNames(matchers:minTime:maxTime:)``.
    package func labelValues(name: String, matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) -> [String] {
        var values = Set<String>()
        forEachSeries(matchers: matchers, minTime: minTime, maxTime: maxTime) { labels in
            if let value = labels[name] { values.insert(value) }
        }
        return values.sorted()
    }

    /// The metadata of every metric family, or of `metric` only, sorted by family. The latest write wins.
    package func metadata(metric: String?) -> [MetricMetadata] {
        state.withLock { state in
            if let metric { return state.metadata[metric].map { [$0] } ?? [] }
            return state.metadata.values.sorted { $0.metricFamily < $1.metricFamily }
        }
    }

    // MARK: - Matching

    /// Applies `transform` to every series matching all matchers with chunks overlapping the range, under the lock.
    private func matchingSeries<T: Sendable>(
        _ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64, _ transform: (MemSeries) -> T
    ) -> [T] {
        var result: [T] = []
        forEachMatchingSeries(matchers) { _, series in
            if series.overlaps(minTime: minTime, maxTime: maxTime) { result.append(transform(series)) }
        }
        return result
    }

    /// Calls `visit` with every series matching all matchers (whether or not it holds samples), and the head's state,
    /// under the lock. `visit` may remove the series it is given.
    ///
    /// Regexes run over a snapshot of the label values with the lock released; only the postings lookup happens under
    /// it. Should a label pair appear or disappear in between, the regex matchers are checked again on each selected
    /// series, so the answer is exact.
    func forEachMatchingSeries(_ matchers: [LabelMatcher], _ visit: (inout State, MemSeries) -> Void) {
        let regexMatchers = matchers.filter(MatcherPlan.needsValues)
        let regexNames = Set(regexMatchers.map(\.name))
        let (values, generation): ([String: [String]], UInt64) = state.withLock { state in
            var values: [String: [String]] = [:]
            for name in regexNames { values[name] = state.index.values(of: name).map { Array($0.keys) } ?? [] }
            return (values, state.index.generation)
        }
        let plans = matchers.map { MatcherPlan($0, values: values[$0.name] ?? []) }
        state.withLock { state in
            let recheck = !regexMatchers.isEmpty && state.index.generation != generation
            for id in state.index.select(plans) {
                guard Int(id) < state.seriesByID.count, let series = state.seriesByID[Int(id)] else { continue }
                if recheck && !regexMatchers.allSatisfy({ $0.matches(series.labels) }) { continue }
                visit(&state, series)
            }
        }
    }

    /// Copies, under the lock, what queries need of the matching series with data in the range; sorted by labels.
    private func snapshots(matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) -> [SeriesSnapshot] {
        var snapshots = matchingSeries(matchers, minTime: minTime, maxTime: maxTime) { series in
            series.snapshot(minTime: minTime, maxTime: maxTime)
        }
        snapshots.sort { $0.labels < $1.labels }
        return snapshots
    }

    /// Calls `body` with the labels of every matching series with data in the range.
    private func forEachSeries(matchers: [LabelMatcher], minTime: Int64, maxTime: Int64, _ body: (Labels) -> Void) {
        guard minTime <= maxTime else { return }
        matchingSeries(matchers, minTime: minTime, maxTime: maxTime) { $0.labels }.forEach(body)
    }

    // MARK: - Decoding

    /// Decodes a snapshot into samples in the range, merging the out-of-order samples in.
    private static func samples(of snapshot: SeriesSnapshot, minTime: Int64, maxTime: Int64) throws -> SeriesSamples {
        var times: [Int64] = []
        var values: [Double] = []
        let estimate = snapshot.inOrder.reduce(snapshot.outOfOrderTimes.count) { $0 + $1.sampleCount }
        times.reserveCapacity(estimate)
        values.reserveCapacity(estimate)
        let ooo = snapshot.outOfOrderTimes
        var next = 0  // the next out-of-order sample to merge
        for chunk in snapshot.inOrder {
            var decoder = try XORChunkDecoder(chunk)
            while let sample = decoder.next() {
                if sample.t < minTime { continue }
                if sample.t > maxTime { break }
                while next < ooo.count && ooo[next] <= sample.t {
                    // On a shared time the in-order sample wins: skip the out-of-order one.
                    if ooo[next] < sample.t {
                        times.append(ooo[next])
                        values.append(snapshot.outOfOrderValues[next])
                    }
                    next += 1
                }
                times.append(sample.t)
                values.append(sample.v)
            }
            if let error = decoder.error { throw error }
        }
        while next < ooo.count {
            times.append(ooo[next])
            values.append(snapshot.outOfOrderValues[next])
            next += 1
        }
        return SeriesSamples(labels: snapshot.labels, timestampsMs: times, values: values)
    }
}
