/// One action of an Elasticsearch bulk request and its outcome, as the `items` of the bulk response report it.
package struct ElasticsearchBulkItem: Sendable, Equatable {
    /// The action name: `index`, `create`, `update` or `delete`.
    package var action: String
    /// The index the action names (its `_index`, or the one in the request path).
    package var index: String
    /// The `_id` the sender gave, or nil (the server makes one up for stored documents).
    package var id: String?
    /// The HTTP status of the item: 201 when stored, 400 when refused.
    package var status: Int
    /// The Elasticsearch error type of a refused item, e.g. `mapper_parsing_exception`; nil when stored.
    package var errorType: String?
    /// Why the item was refused; nil when stored.
    package var errorReason: String?

    package init(action: String, index: String, id: String? = nil, status: Int = 201, errorType: String? = nil, errorReason: String? = nil) {
        self.action = action
        self.index = index
        self.id = id
        self.status = status
        self.errorType = errorType
        self.errorReason = errorReason
    }

    /// Whether the item was refused.
    package var isError: Bool { errorType != nil }
}
