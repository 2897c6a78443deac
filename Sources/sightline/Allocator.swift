import Glibc

/// Process-wide settings of glibc's allocator for the long-running commands.
enum Allocator {
    /// Keeps freed buffers of up to 32 MiB in the heap for reuse.
    ///
    /// Ingestion allocates a few buffers of a megabyte or so per batch (a read buffer, a request body, its decoded
    /// form, a WAL record, a frame). glibc maps allocations that large afresh, or trims them off the top of the heap
    /// when they are freed, so every batch faulted in and zeroed its pages again: about a fifth of the agent's CPU
    /// and a tenth of the server's when the agent ships 100 MiB/s of log lines. With a fixed mapping threshold of
    /// 32 MiB and a trim threshold of 128 MiB the freed buffers serve the next batch.
    static func keepLargeBuffers() {
        // mallopt(3) is not in Swift's Glibc module: found at run time. M_MMAP_THRESHOLD is -3, M_TRIM_THRESHOLD -1.
        guard let symbol = dlsym(nil, "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
        _ = mallopt(-3, 32 << 20)
        _ = mallopt(-1, 128 << 20)
    }
}
