/// The messages of one subscription, as an `AsyncSequence`.
///
/// Iterate it once (it is backed by one stream). It ends after ``unsubscribe()`` and throws the connection's
/// ``SightlineCore/SightlineError`` when the connection fails. Dropping the iterator (e.g. leaving the loop or
/// cancelling the task) unsubscribes too.
package struct NATSSubscription: AsyncSequence, Sendable {
    package typealias Element = NATSMessage
    package typealias AsyncIterator = AsyncThrowingStream<NATSMessage, any Error>.AsyncIterator

    /// The subject or pattern subscribed to.
    package let subject: String
    /// The subscription id sent in `SUB`.
    package let sid: UInt64
    private let stream: AsyncThrowingStream<NATSMessage, any Error>
    private let connection: NATSConnection

    init(subject: String, sid: UInt64, stream: AsyncThrowingStream<NATSMessage, any Error>, connection: NATSConnection) {
        self.subject = subject
        self.sid = sid
        self.stream = stream
        self.connection = connection
    }

    package func makeAsyncIterator() -> AsyncIterator {
        stream.makeAsyncIterator()
    }

    /// Sends `UNSUB` and ends the sequence (messages already buffered are still delivered).
    package func unsubscribe() {
        connection.unsubscribeSoon(sid: sid)
    }
}
