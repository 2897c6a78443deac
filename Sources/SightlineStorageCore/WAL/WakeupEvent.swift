import Glibc

/// An auto-reset event on a pthread mutex and condition variable: ``signal()`` wakes the one waiting thread, or the
/// next one to wait if none waits yet (a signal is never lost). Used to wake the WAL writer thread.
///
/// `@unchecked Sendable`: `signaled` is only read and written with `mutex` held, and the pthread objects live at
/// stable heap addresses from `init` to `deinit`.
final class WakeupEvent: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var signaled = false

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Wakes the waiting thread, or lets the next ``wait()`` return at once.
    func signal() {
        pthread_mutex_lock(mutex)
        signaled = true
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Blocks until signalled.
    func wait() {
        pthread_mutex_lock(mutex)
        while !signaled { pthread_cond_wait(condition, mutex) }
        signaled = false
        pthread_mutex_unlock(mutex)
    }

    /// Blocks until signalled or until `timeout` has passed; returns whether it was signalled.
    @discardableResult
    func wait(timeout: Duration) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let (seconds, attoseconds) = max(timeout, .zero).components
        let nanoseconds = Int(now.tv_nsec) + Int(attoseconds / 1_000_000_000)
        var deadline = timespec()
        deadline.tv_sec = now.tv_sec + Int(seconds) + nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        pthread_mutex_lock(mutex)
        while !signaled {
            if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { break }
        }
        let wasSignaled = signaled
        signaled = false
        pthread_mutex_unlock(mutex)
        return wasSignaled
    }
}
