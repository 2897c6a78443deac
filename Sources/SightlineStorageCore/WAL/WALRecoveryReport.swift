/// What ``WriteAheadLog/init(directory:options:logger:)`` found in the directory and repaired.
package struct WALRecoveryReport: Sendable, Equatable {
    /// How many segment files existed before the WAL opened its new segment.
    package var segments: Int
    /// How many intact records those segments hold (after the repair).
    package var records: Int
    /// How many bytes of a torn tail were cut off the last segment; 0 when it was intact.
    package var droppedBytes: Int64
    /// The segment whose tail was cut off, if any.
    package var droppedInSegment: Int?

    /// A report with the given values.
    package init(segments: Int, records: Int, droppedBytes: Int64, droppedInSegment: Int?) {
        self.segments = segments
        self.records = records
        self.droppedBytes = droppedBytes
        self.droppedInSegment = droppedInSegment
    }
}
