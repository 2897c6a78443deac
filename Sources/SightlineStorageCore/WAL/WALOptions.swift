/// Called on the WAL writer thread after every committed batch: how many records and bytes it held, and how long its
/// `write()` and its fsync took in seconds (0 when the batch was not fsynced). Must return quickly.
package typealias WALCommitObserver =
    @Sendable (_ records: Int, _ bytes: Int, _ writeSeconds: Double, _ fsyncSeconds: Double) -> Void

/// How a ``WriteAheadLog`` writes.
package struct WALOptions: Sendable {
    /// The size in bytes at which a segment is closed and the next one started. A record larger than this goes alone
    /// into its own segment.
    package var segmentSize: Int = 64 << 20
    /// When appends are fsynced.
    package var fsync: FsyncPolicy = .always
    /// Called after every committed batch, for latency and batch-size metrics.
    package var observer: WALCommitObserver?

    /// Options with the given values; the defaults are 64 MiB segments, fsync before every acknowledgement, no observer.
    package init(segmentSize: Int = 64 << 20, fsync: FsyncPolicy = .always, observer: WALCommitObserver? = nil) {
        self.segmentSize = segmentSize
        self.fsync = fsync
        self.observer = observer
    }
}
