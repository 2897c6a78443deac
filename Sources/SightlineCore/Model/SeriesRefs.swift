/// A store's numbers for the series of a batch's samples, handed out by admission so that the later steps of the same
/// batch (its WAL record, the store's apply) need not find each series by its labels again.
///
/// One number per sample; 0 for a series the store did not hold when it admitted the batch. Numbers are plain
/// values, so a batch holds no reference into the store and costs no reference counting per sample; they mean
/// something only to the store whose ``owner`` they carry, which checks that the series is still there before it
/// uses one.
package struct SeriesRefs: Sendable {
    /// Which store numbered the series (a number the store picks, unique per process).
    package let owner: UInt64
    /// One per sample; 0: not held.
    package var ids: [UInt32]

    package init(owner: UInt64, ids: [UInt32]) {
        self.owner = owner
        self.ids = ids
    }
}
