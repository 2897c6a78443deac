/// Cardinality and size of a head, as `/api/v1/status/tsdb` reports them.
package struct HeadStats: Sendable, Hashable {
    /// A name and a count, for the top-N lists.
    package struct Entry: Sendable, Hashable {
        /// A metric name, label name, or `name=value` pair.
        package var name: String
        /// The count or size for it.
        package var value: Int

        /// Creates an entry.
        package init(name: String, value: Int) {
            self.name = name
            self.value = value
        }
    }

    /// Series in the index (including those whose samples were all flushed to blocks).
    package var numSeries: Int
    /// Distinct label name/value pairs.
    package var numLabelPairs: Int
    /// Chunks in memory: sealed, open and out-of-order.
    package var chunkCount: Int
    /// The oldest sample time in memory; nil when the head holds no sample.
    package var minTime: Int64?
    /// The newest sample time in memory; nil when the head holds no sample.
    package var maxTime: Int64?
    /// Top metric names by series count, descending.
    package var seriesCountByMetricName: [Entry]
    /// Top label names by number of distinct values, descending.
    package var labelValueCountByLabelName: [Entry]
    /// Top `name=value` pairs by series count, descending.
    package var seriesCountByLabelValuePair: [Entry]
    /// Top label names by the bytes of their distinct values, descending (as Prometheus counts it).
    package var memoryInBytesByLabelName: [Entry]

    /// Creates statistics.
    package init(
        numSeries: Int, numLabelPairs: Int, chunkCount: Int, minTime: Int64?, maxTime: Int64?,
        seriesCountByMetricName: [Entry], labelValueCountByLabelName: [Entry], seriesCountByLabelValuePair: [Entry],
        memoryInBytesByLabelName: [Entry]
    ) {
        self.numSeries = numSeries
        self.numLabelPairs = numLabelPairs
        self.chunkCount = chunkCount
        self.minTime = minTime
        self.maxTime = maxTime
        self.seriesCountByMetricName = seriesCountByMetricName
        self.labelValueCountByLabelName = labelValueCountByLabelName
        self.seriesCountByLabelValuePair = seriesCountByLabelValuePair
        self.memoryInBytesByLabelName = memoryInBytesByLabelName
    }
}
