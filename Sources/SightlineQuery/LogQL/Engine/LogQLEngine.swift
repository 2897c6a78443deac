package import SightlineCore

/// One stream of a log query result: its labels (stream labels, structured metadata and the labels the pipeline
/// extracted, as Loki shows them without categorisation) and its entries in the query's direction.
///
/// For Loki's categorised responses (`X-Loki-Response-Encoding-Flags: categorize-labels`), ``streamLabels`` holds
/// the labels that are still stream labels after the pipeline, and each entry its structured metadata and parsed
/// labels; group entries by ``streamLabels`` to build them.
package struct LogStreamResult: Sendable {
    package var labels: Labels
    package var streamLabels: Labels
    package var entries: [LogEntry]

    package init(labels: Labels, streamLabels: Labels? = nil, entries: [LogEntry]) {
        self.labels = labels
        self.streamLabels = streamLabels ?? labels
        self.entries = entries
    }
}

/// One log line of a result, at its time in nanoseconds, with its structured metadata and the labels the pipeline
/// set (both also part of the stream's ``LogStreamResult/labels``), and its record's OpenTelemetry severity number
/// (0 when unset; one of the sources of its `detected_level`).
package struct LogEntry: Sendable, Equatable {
    package var timeNs: Int64
    package var line: String
    package var structuredMetadata: Labels
    package var parsed: Labels
    package var severityNumber: Int32

    package init(
        timeNs: Int64, line: String, structuredMetadata: Labels = Labels([]), parsed: Labels = Labels([]), severityNumber: Int32 = 0
    ) {
        self.timeNs = timeNs
        self.line = line
        self.structuredMetadata = structuredMetadata
        self.parsed = parsed
        self.severityNumber = severityNumber
    }

    /// The structured metadata with the line's `detected_level`, which Loki stores with every line (Sightline derives
    /// it, see ``LogLevelDetection``), for a line of the stream `stream`.
    package func structuredMetadataWithLevel(stream: Labels) -> Labels {
        let metadata = structuredMetadata
        guard metadata[LogLevelDetection.label] == nil else { return metadata }
        let level = LogLevelDetection.level(
            streamValue: { stream[$0] }, metadataValue: { metadata[$0] }, severityNumber: severityNumber, line: line)
        return Labels(metadata.labels + [Label(LogLevelDetection.label, level)])
    }
}

/// The value of a LogQL query, as Loki's API returns it in `data.resultType` and `data.result`. Sample timestamps
/// are milliseconds (Loki prints them as seconds with millisecond precision); entry timestamps nanoseconds.
package enum LogQLResult: Sendable {
    /// A log query: streams sorted by labels.
    case streams([LogStreamResult])
    /// A metric instant query.
    case vector([Sample])
    /// A metric range query: series sorted by labels, points in ascending time.
    case matrix([Series])
    /// A query of literals only, at `t` (milliseconds).
    case scalar(t: Int64, v: Double)
}

/// What a query is, without running it: for `/series`, `/index/stats` and choosing between log and metric handling.
package struct LogQLQueryInfo: Sendable {
    /// Whether the query yields samples (a metric query) rather than log lines.
    package var isMetric: Bool
    /// The matchers of every stream selector in the query, in source order.
    package var streamMatchers: [[LabelMatcher]]
}

/// Evaluates LogQL queries with Loki's semantics over a ``LogSource``.
///
/// Log queries scan once in the requested direction and stop as soon as `limit` entries passed the pipeline. Metric
/// queries scan each range aggregation's selector once, forward, over `(start - range - offset, end - offset]`,
/// bucket the samples per series, and slide each step's left-open, right-closed window `(t - range, t]` over them;
/// vector aggregations, binary operations and `label_replace` then run per step with PromQL's kernels. A `sum by`
/// over a count of records or bytes groups the records as they are read; counts (`count_over_time`, `rate`,
/// `bytes_over_time`, `bytes_rate`) and the extremes of unwrapped values (`min_over_time`, `max_over_time`) from a store
/// that can fold its blocks in parallel (``LogPartitionedScanning``) are folded in any order instead of merged in time
/// order.
///
/// What is supported (Loki 2.9/3.x LogQL): stream selectors; line filters `|=` `!=` `|~` `!~` `|>` `!>` with `or`
/// and `ip()`; parsers `json` (all fields or paths), `logfmt` (`--strict`, `--keep-empty`, named keys), `regexp`,
/// `pattern`, `unpack`; label filters (string, numeric, duration, bytes, `ip()`, `and`/`or`/`,`/parentheses);
/// `line_format`/`label_format` (Go templates with the functions of ``LogTemplate``); `drop`, `keep`, `decolorize`;
/// `__error__`/`__error_details__`; every range aggregation (`count_over_time`, `rate`, `bytes_over_time`, `bytes_rate`,
/// `absent_over_time`, and over `unwrap` — with `duration()`/`bytes()` and post filters — `sum`, `avg`, `min`, `max`,
/// `stdvar`, `stddev`, `quantile`, `first`, `last` `_over_time`, `rate`, `rate_counter`), `by`/`without` where Loki
/// allows it, `offset`; vector aggregations `sum avg min max count stddev stdvar topk bottomk sort sort_desc`; binary
/// operators with `bool`, `on`/`ignoring`, `group_left`/`group_right`; `label_replace`; literals; `vector()`;
/// `approx_topk` (computed exactly). Loki 3's `detected_level` structured metadata is derived from each record when a
/// stage, grouping or template names it (``LogLevelDetection``); it is not among the labels of results.
///
/// Not supported: the quantile sketches, instant log queries (rejected as Loki 3
/// rejects them), query stats.
///
/// ```swift
/// let engine = LogQLEngine(source: store)
/// let result = try engine.range(query: "sum by (level) (rate({app=\"api\"} | json [5m]))", tenant: .default,
///                               start: start, end: end, step: 60_000_000_000, limit: 100, direction: .backward)
/// ```
package struct LogQLEngine: Sendable {
    /// Limits of one query.
    package struct Limits: Sendable {
        /// The most series a metric query may return (Loki's `max_query_series`); checked on the result, as Loki does,
        /// so `sum(…)` over many series stays within it.
        package var maxSeries: Int = 500
        /// The largest `limit` a log query may ask for (Loki's `max_entries_limit_per_query`).
        package var maxEntries: Int = 5000
        /// The most steps a range query may have (Loki's 11,000 points per series).
        package var maxPointsPerSeries: Int = 11_000

        package init(maxSeries: Int = 500, maxEntries: Int = 5000, maxPointsPerSeries: Int = 11_000) {
            self.maxSeries = maxSeries
            self.maxEntries = maxEntries
            self.maxPointsPerSeries = maxPointsPerSeries
        }
    }

    private let source: any LogSource
    private let limits: Limits

    package init(source: any LogSource, limits: Limits = Limits()) {
        self.source = source
        self.limits = limits
    }

    /// Parses a query.
    /// - Throws: ``LogQLParseError``.
    package static func parse(_ query: String) throws(LogQLParseError) -> LogQLExpr {
        try LogQLParser.parse(query)
    }

    /// Parses a query; see ``parse(_:)-swift.type.method``.
    package func parse(_ query: String) throws(LogQLParseError) -> LogQLExpr {
        try LogQLParser.parse(query)
    }

    /// Whether `query` is a metric query, and its stream matchers.
    /// - Throws: ``LogQLParseError``.
    package static func info(_ query: String) throws(LogQLParseError) -> LogQLQueryInfo {
        let expr = try LogQLParser.parse(query)
        return LogQLQueryInfo(isMetric: expr.isMetric, streamMatchers: expr.streamMatchers)
    }

    /// Evaluates a metric query at one time (ns). Log queries are rejected, as Loki 3 rejects them.
    /// - Throws: `invalidArgument` for parse errors (the message is Loki's `parse error …`), a log query, a
    ///   pipeline error; `tooLarge` when a limit is exceeded; the source's errors.
    package func instant(
        query: String, tenant: Tenant, time: Int64, limit: Int = 100, direction: LogScan.Direction = .backward
    ) throws -> LogQLResult {
        let expr = try parseForQuery(query)
        guard expr.isMetric else {
            throw SightlineError(
                .invalidArgument, "log queries are not supported as an instant query type, please change your query to a range query type")
        }
        let evaluator = LogQLMetricEvaluator(source: source, tenant: tenant, steps: [time], limits: limits)
        let perStep = try evaluator.evaluate(expr)
        switch perStep[0] {
        case .scalar(let value): return .scalar(t: Self.milliseconds(time), v: value)
        case .vector(var samples):
            if samples.count > limits.maxSeries { throw Self.seriesLimitError(limits.maxSeries) }
            // Loki sorts an instant vector by labels unless the query sorts by value somewhere.
            if !expr.sortsByValue { samples.sort { $0.metric < $1.metric } }
            return .vector(samples)
        }
    }

    /// Evaluates a query over `[start, end]` (ns): a log query returns up to `limit` entries of `[start, end)` in
    /// `direction`; a metric query is evaluated every `step` ns from `start` to `end` inclusive.
    /// - Throws: as ``instant(query:tenant:time:limit:direction:)``, and `invalidArgument` for a bad range or step.
    package func range(
        query: String, tenant: Tenant, start: Int64, end: Int64, step: Int64, limit: Int = 100,
        direction: LogScan.Direction = .backward
    ) throws -> LogQLResult {
        let expr = try parseForQuery(query)
        if end < start { throw SightlineError(.invalidArgument, "end timestamp must not be before or equal to start time") }
        if case .log(let selector) = expr {
            return .streams(try logQuery(selector, tenant: tenant, start: start, end: end, limit: limit, direction: direction))
        }
        guard step > 0 else {
            throw SightlineError(.invalidArgument, "zero or negative query resolution step widths are not accepted. Try a positive integer")
        }
        let (span, overflow) = end.subtractingReportingOverflow(start)
        let count = overflow ? Int64.max : span / step + 1
        if count > Int64(limits.maxPointsPerSeries) {
            throw SightlineError(
                .tooLarge,
                "exceeded maximum resolution of \(limits.maxPointsPerSeries) points per timeseries. Try increasing the value of the step parameter")
        }
        var steps: [Int64] = []
        steps.reserveCapacity(Int(count))
        for index in 0..<count { steps.append(start + index * step) }
        let evaluator = LogQLMetricEvaluator(source: source, tenant: tenant, steps: steps, limits: limits)
        return .matrix(try Self.matrix(try evaluator.evaluate(expr), steps: steps, maxSeries: limits.maxSeries))
    }

    /// The series of per-step results, sorted by labels, points in step order; `tooMany` (by default the query's
    /// series limit error) past `maxSeries`.
    static func matrix(_ perStep: [LogQLStepValue], steps: [Int64], maxSeries: Int, tooMany: SightlineError? = nil) throws -> [Series] {
        var index: [Labels: Int] = [:]
        var series: [Series] = []
        for (stepIndex, value) in perStep.enumerated() {
            let tMs = Self.milliseconds(steps[stepIndex])
            switch value {
            case .scalar(let v):
                if series.isEmpty { series.append(Series(metric: Labels([]), points: [])) }
                series[0].points.append(FloatPoint(t: tMs, v: v))
            case .vector(let samples):
                for sample in samples {
                    if let slot = index[sample.metric] {
                        series[slot].points.append(FloatPoint(t: tMs, v: sample.v))
                    } else {
                        index[sample.metric] = series.count
                        series.append(Series(metric: sample.metric, points: [FloatPoint(t: tMs, v: sample.v)]))
                        if series.count > maxSeries { throw tooMany ?? Self.seriesLimitError(maxSeries) }
                    }
                }
            }
        }
        series.sort { $0.metric < $1.metric }
        return series
    }

    static func milliseconds(_ ns: Int64) -> Int64 {
        ns >= 0 ? ns / 1_000_000 : (ns - 999_999) / 1_000_000
    }

    static func seriesLimitError(_ limit: Int) -> SightlineError {
        SightlineError(
            .tooLarge,
            "maximum number of series (\(limit)) reached for a single query; consider reducing query cardinality by adding more specific "
                + "stream selectors, reducing the time range, or aggregating results with functions like sum(), count() or topk()")
    }

    private func parseForQuery(_ query: String) throws -> LogQLExpr {
        do {
            return try LogQLParser.parse(query)
        } catch {
            throw SightlineError(.invalidArgument, error.description, cause: nil)
        }
    }

    // MARK: - Volume

    /// Loki's log volume: the bytes of the lines of the streams matching `matchers`, summed per group of `groupBy`'s
    /// values (as `sum by (…) (bytes_over_time(…))` groups them), in the buckets `(start, start + step]`, `(start +
    /// step, start + 2·step]`, … the last one ending at `end` (one bucket `(start, end]` without a step). Series sorted
    /// by labels, each point at its bucket's end (ms); empty groups and buckets left out.
    /// - Throws: `tooLarge` past 1,000 groups (Loki's `volume_max_series`), `invalidArgument` for more than
    ///   ``Limits/maxPointsPerSeries`` buckets; the source's errors.
    package func volume(tenant: Tenant, matchers: [LabelMatcher], groupBy: [String], start: Int64, end: Int64, step: Int64?) throws -> [Series] {
        guard end > start else { return [] }
        let width = step.map { max(1, $0) } ?? (end - start)
        let (span, overflow) = (end - start).addingReportingOverflow(width - 1)
        let buckets = overflow ? Int64.max : span / width
        if buckets > Int64(limits.maxPointsPerSeries) {
            throw SightlineError(
                .invalidArgument,
                "exceeded maximum resolution of \(limits.maxPointsPerSeries) points per timeseries. Try increasing the value of the step parameter")
        }
        let grouping = LogQLGrouping(labels: groupBy, without: false)
        /// The buckets of `window` ending at `ends`.
        func evaluate(ends: [Int64], window: Int64) throws -> [Series] {
            let bytes = RangeAggregationExpr(
                op: .bytesOverTime, range: LogRangeExpr(selector: LogSelectorExpr(matchers: matchers), rangeNs: window), parameter: nil,
                grouping: nil)
            let sum = LogQLExpr.vectorAggregation(VectorAggregationExpr(op: .sum, expr: .rangeAggregation(bytes), parameter: nil, grouping: grouping))
            let evaluator = LogQLMetricEvaluator(source: source, tenant: tenant, steps: ends, limits: limits)
            return try Self.matrix(try evaluator.evaluate(sum), steps: ends, maxSeries: Self.maxVolumeSeries, tooMany: Self.volumeSeriesError)
        }
        // Whole buckets in one evaluation, a shorter last one in another.
        let whole = (end - start) / width
        var series = whole > 0 ? try evaluate(ends: (1...whole).map { start + $0 * width }, window: width) : []
        let covered = start + whole * width
        if covered < end {
            var slots = Dictionary(uniqueKeysWithValues: series.enumerated().map { ($0.element.metric, $0.offset) })
            for last in try evaluate(ends: [end], window: end - covered) {
                if let slot = slots[last.metric] {
                    series[slot].points += last.points
                } else {
                    slots[last.metric] = series.count
                    series.append(last)
                }
            }
            if series.count > Self.maxVolumeSeries { throw Self.volumeSeriesError }
            series.sort { $0.metric < $1.metric }
        }
        return series
    }

    /// The most groups a volume query may have (Loki's `volume_max_series` default).
    package static let maxVolumeSeries = 1000

    static var volumeSeriesError: SightlineError {
        SightlineError(.tooLarge, "the query hit the max number of series limit (limit: \(maxVolumeSeries) series)")
    }

    // MARK: - Log queries

    /// Scans in `direction` and stops once `limit` entries passed the pipeline; the first `limit` entries in scan
    /// order are the newest (backward) or oldest (forward) of the range.
    private func logQuery(
        _ selector: LogSelectorExpr, tenant: Tenant, start: Int64, end: Int64, limit: Int, direction: LogScan.Direction
    ) throws -> [LogStreamResult] {
        if limit > limits.maxEntries {
            throw SightlineError(
                .tooLarge, "max entries limit per query exceeded, limit > max_entries_limit_per_query (\(limit) > \(limits.maxEntries))")
        }
        if limit <= 0 { return [] }
        var processor = try LogQLLineProcessor(selector)
        let scan = LogScan(
            tenant: tenant, matchers: selector.matchers, range: Self.timeRange(from: start, to: end), direction: direction,
            lineContains: selector.requiredSubstrings)
        var streams: [Labels: Int] = [:]
        var results: [LogStreamResult] = []
        var taken = 0
        try source.scan(scan) { record in
            guard let (labels, streamLabels, entry) = processor.process(record) else { return true }
            if let slot = streams[labels] {
                results[slot].entries.append(entry)
            } else {
                streams[labels] = results.count
                results.append(LogStreamResult(labels: labels, streamLabels: streamLabels, entries: [entry]))
            }
            taken += 1
            return taken < limit
        }
        results.sort { $0.labels < $1.labels }
        return results
    }

    /// `[from, to)` in ns as a ``TimeRange`` (negative times clamp to 0).
    static func timeRange(from: Int64, to: Int64) -> TimeRange {
        TimeRange(startNano: UInt64(max(0, from)), endNano: UInt64(max(0, to)))
    }
}

extension LogRecord {
    /// ``LogRecord/effectiveTimeUnixNano`` as LogQL's signed nanoseconds.
    var logQLTimeNano: Int64 { Int64(clamping: effectiveTimeUnixNano) }
}

/// The per-record step of a log query: the stream selector's matchers and the pipeline, applied to one record at a
/// time. Log queries run it over a scan; live tail over each record as it is stored.
package struct LogQLLineProcessor {
    /// The stream selector's matchers; ``process(_:)`` does not check them (a scan already did).
    package let matchers: [LabelMatcher]
    private let pipeline: LogPipeline
    private var builder = LogLabelsBuilder()

    init(_ selector: LogSelectorExpr) throws {
        matchers = selector.matchers
        pipeline = try LogPipeline(selector.stages)
    }

    /// The processor of a log query.
    /// - Throws: `invalidArgument` with Loki's message for a parse error or a metric query.
    package init(query: String) throws {
        let expr: LogQLExpr
        do {
            expr = try LogQLParser.parse(query)
        } catch {
            throw SightlineError(.invalidArgument, error.description)
        }
        guard case .log(let selector) = expr else {
            throw SightlineError(.invalidArgument, "only log queries can be tailed, not metric queries")
        }
        try self.init(selector)
    }

    /// Whether the record's stream labels satisfy the selector.
    package func selects(_ record: LogRecord) -> Bool {
        let stream = record.streamLabels
        return matchers.allSatisfy { $0.matches(stream) }
    }

    /// Runs the pipeline over one record: its labels as Loki shows them, its remaining stream labels, and the entry;
    /// nil when a filter drops it.
    package mutating func process(_ record: LogRecord) -> (labels: Labels, streamLabels: Labels, entry: LogEntry)? {
        let time = record.logQLTimeNano
        var line = record.line
        let metadata = record.structuredMetadata
        let stream = record.streamLabels
        if pipeline.keepsLabels && metadata.isEmpty {
            guard pipeline.process(line: &line, timeNs: time, labels: &builder) else { return nil }
            return (stream, stream, LogEntry(timeNs: time, line: line, severityNumber: record.severityNumber))
        }
        builder.reset(stream: stream, metadata: metadata, line: line, severityNumber: record.severityNumber)
        guard pipeline.process(line: &line, timeNs: time, labels: &builder) else { return nil }
        guard builder.changed || !metadata.isEmpty else {
            return (builder.labels, stream, LogEntry(timeNs: time, line: line, severityNumber: record.severityNumber))
        }
        return (
            builder.labels, builder.labels(.stream),
            LogEntry(
                timeNs: time, line: line, structuredMetadata: builder.labels(.structuredMetadata), parsed: builder.labels(.parsed),
                severityNumber: record.severityNumber)
        )
    }
}
