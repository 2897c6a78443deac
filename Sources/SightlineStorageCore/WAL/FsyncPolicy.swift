/// When the write-ahead log fsyncs, and so when an append is acknowledged.
package enum FsyncPolicy: Sendable, Equatable {
    /// Fsync every batch before acknowledging it: an acknowledged record survives a power loss. The default.
    case always
    /// Acknowledge after `write()`, and fsync in the background at most every interval (and on rotate and close):
    /// a crash of the machine may lose the last interval of acknowledged records; a crash of the process loses none.
    case interval(Duration)
    /// Never fsync. For tests and benchmarks only.
    case never
}
