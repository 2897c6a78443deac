package import SightlineCore

/// A decoded Elasticsearch bulk request: the log records to store and one item per action, in request order.
package struct ElasticsearchBulkRequest: Sendable {
    /// The records of the accepted `index` and `create` actions, in order.
    package var records: LogBatch
    /// Every action's outcome, in order; the stored ones correspond, in order, to ``records``.
    package var items: [ElasticsearchBulkItem]

    package init(records: LogBatch = LogBatch(), items: [ElasticsearchBulkItem] = []) {
        self.records = records
        self.items = items
    }

    /// How many items were refused.
    package var rejectedCount: Int { items.count { $0.isError } }

    /// The first few refusal reasons joined with "; ", for the ingestion pipeline's rejection message.
    package var rejectionMessage: String {
        let reasons = items.compactMap { item in item.errorReason.map { "[\(item.index)] \($0)" } }
        var text = reasons.prefix(5).joined(separator: "; ")
        if reasons.count > 5 { text += "; and \(reasons.count - 5) more" }
        return text
    }
}
