import SightlineCore

/// Checks each record of a batch against the limits and drops those that break one, counting why.
struct BatchValidator: Sendable {
    let limits: IngestLimits

    struct Result {
        var batch: SignalBatch
        var rejections: [String: Int] = [:]
        var message: String = ""
        /// Log records kept with their body cut to the limit.
        var truncated = 0

        var rejected: Int { rejections.values.reduce(0, +) }

        mutating func reject(_ reason: String, _ explanation: @autoclosure () -> String) {
            if rejections.isEmpty { message = explanation() }
            rejections[reason, default: 0] += 1
        }
    }

    func validate(_ batch: SignalBatch) -> Result {
        var result = Result(batch: batch)
        switch batch {
        case .logs(let records):
            // Most batches break no limit: checked on the rows, they go on as they came.
            let maxBodyBytes = limits.maxLogBodyBytes
            let maxAttributes = limits.maxAttributes
            if records.rows.allSatisfy({ row in
                guard Int(row.attributeCount) <= maxAttributes else { return false }
                if case .string = row.body.kind { return Int(row.body.length) <= maxBodyBytes }
                return true
            }) {
                return result
            }
            var kept = LogBatch()
            kept.reserveCapacity(rows: records.count)
            for var record in records {
                if let (reason, message) = dropReason(for: record) {
                    result.reject(reason, message)
                    continue
                }
                // A long body left by dropReason is to be truncated.
                if let bytes = longBodyBytes(of: record), case .string(let body) = record.body {
                    record.body = .string(Self.prefix(of: body, maxBytes: limits.maxLogBodyBytes))
                    record.attributes.append(Attribute(LongLogBodyPolicy.truncatedAttribute, .int(Int64(bytes))))
                    result.truncated += 1
                }
                kept.append(record)
            }
            result.batch = .logs(kept)
        case .traces(let spans):
            if spans.allSatisfy({ refusal(of: $0) == nil }) { return result }
            let kept = spans.filter { span in
                guard let (reason, message) = refusal(of: span) else { return true }
                result.reject(reason, message)
                return false
            }
            result.batch = .traces(kept)
        case .metrics(var metrics):
            // Most batches break no limit: check them without copying, and filter only one that does.
            if !metrics.samples.allSatisfy({ Self.refusal(of: $0.labels, limits: limits) == nil }) {
                metrics.samples = metrics.samples.filter { sample in
                    guard let (reason, message) = Self.refusal(of: sample.labels, limits: limits) else { return true }
                    result.reject(reason, message)
                    return false
                }
            }
            result.batch = .metrics(metrics)
        }
        return result
    }

    /// Why validation drops a log record (reason, message), or nil when it keeps it (its body perhaps truncated).
    func dropReason(for record: LogRecord) -> (String, String)? {
        var bodyBytes: Int?
        if case .string(let body) = record.body { bodyBytes = body.utf8.count }
        return dropReason(attributes: record.attributes.count, stringBodyBytes: bodyBytes)
    }

    /// ``dropReason(for:)`` of the record a batch's row holds, read from the row.
    func dropReason(for row: LogBatch.Row) -> (String, String)? {
        var bodyBytes: Int?
        if case .string = row.body.kind { bodyBytes = Int(row.body.length) }
        return dropReason(attributes: Int(row.attributeCount), stringBodyBytes: bodyBytes)
    }

    private func dropReason(attributes: Int, stringBodyBytes: Int?) -> (String, String)? {
        if attributes > limits.maxAttributes {
            return ("too_many_attributes", "a log record has \(attributes) attributes, more than the limit of \(limits.maxAttributes)")
        }
        if case .reject = limits.longLogBodies, let bytes = stringBodyBytes, bytes > limits.maxLogBodyBytes {
            return ("body_too_large", "a log body of \(bytes) bytes exceeds the limit of \(limits.maxLogBodyBytes) (limits.max_log_body_bytes)")
        }
        return nil
    }

    /// The byte length of a string body over the limit, or nil when the body is within it (or not a string).
    private func longBodyBytes(of record: LogRecord) -> Int? {
        guard case .string(let body) = record.body, body.utf8.count > limits.maxLogBodyBytes else { return nil }
        return body.utf8.count
    }

    /// Why a span is refused (reason, message), or nil when it is not.
    private func refusal(of span: Span) -> (String, String)? {
        if span.attributes.count > limits.maxAttributes {
            return ("too_many_attributes", "span \(span.spanID) has \(span.attributes.count) attributes, more than the limit of \(limits.maxAttributes)")
        }
        if span.endTimeUnixNano < span.startTimeUnixNano { return ("invalid_span_times", "span \(span.spanID) ends before it starts") }
        return nil
    }

    /// Why a series breaks the limits (reason, message), or nil when it does not.
    private static func refusal(of series: Labels, limits: IngestLimits) -> (String, String)? {
        let labels = series.labels
        // `__name__` sorts first unless a label name starts with an upper-case letter.
        let hasName = labels.first.map { $0.name == Labels.metricName && !$0.value.isEmpty } ?? false
        if !hasName && series.metricName.isEmpty {
            return ("missing_metric_name", "a sample has no metric name (__name__)")
        }
        if labels.count > limits.maxLabelsPerSeries {
            return ("too_many_labels", "series \(series) has \(labels.count) labels, more than the limit of \(limits.maxLabelsPerSeries)")
        }
        if let long = labels.first(where: { $0.name.utf8.count > limits.maxLabelValueBytes || $0.value.utf8.count > limits.maxLabelValueBytes }) {
            return ("label_too_long", "label \(long.name.prefix(64)) of series \(series.metricName) is longer than the limit of \(limits.maxLabelValueBytes) bytes")
        }
        return nil
    }

    /// The longest prefix of `text` of at most `maxBytes` UTF-8 bytes that ends on a character boundary.
    static func prefix(of text: String, maxBytes: Int) -> String {
        let utf8 = Array(text.utf8.prefix(maxBytes + 1))
        guard utf8.count > maxBytes else { return text }
        var end = maxBytes
        // Step back over continuation bytes (10xxxxxx) so a multi-byte character is not split.
        while end > 0 && utf8[end] & 0xC0 == 0x80 { end -= 1 }
        return String(decoding: utf8[..<end], as: UTF8.self)
    }
}
