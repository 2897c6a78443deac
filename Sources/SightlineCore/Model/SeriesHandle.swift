/// A store's own record of a metric series, handed out by admission so that the later steps of the same batch (its
/// WAL record, the store's apply) need not find the series by its labels again.
///
/// The metrics head subclasses it with its series; ``owner`` tells a store whether a handle is one of its own. What a
/// handle carries besides is immutable, so handles travel with a batch across threads — except the WAL's number for
/// the series, which only the WAL writer thread reads and writes.
open class SeriesHandle: @unchecked Sendable {
    /// Which store made the handle (a number the store picks, unique per process).
    package final let owner: UInt64
    /// The series' labels as the WAL record writes them (``ByteWriter/writeLabels(_:)``), encoded once.
    package final let encodedLabels: [UInt8]
    /// The number the WAL's current segment knows the series by, valid while ``walGeneration`` is the writer's
    /// (``WALSeriesScope``). Touched only on the WAL writer thread.
    package final var walReference: UInt32 = 0
    /// The ``WALSeriesScope/generation`` ``walReference`` was handed out in; 0: none.
    package final var walGeneration: UInt64 = 0

    package init(owner: UInt64, labels: Labels) {
        self.owner = owner
        var writer = ByteWriter(capacity: 16 * labels.labels.count + 4)
        writer.writeLabels(labels)
        encodedLabels = writer.bytes
    }
}
