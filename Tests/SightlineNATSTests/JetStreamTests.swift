import NIOCore
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineNATS

/// Runs `body` with a JetStream context and a fresh work-queue stream on `<stream>.>` (deleted afterwards).
func withWorkQueue(
    ackWait: Duration = .seconds(30), _ body: (JetStream, _ stream: String, _ consumer: String) async throws -> Void
) async throws {
    try await withNATS { nats in
        let js = JetStream(connection: nats)
        let stream = uniqueName("WQ")
        _ = try await js.createOrUpdateStream(
            JetStreamStreamConfig(name: stream, subjects: [stream + ".>"], retention: .workQueue, maxAge: .seconds(3600), duplicateWindow: .seconds(60)))
        _ = try await js.createOrUpdateConsumer(
            stream: stream, config: JetStreamConsumerConfig(durableName: "workers", filterSubject: stream + ".>", ackWait: ackWait, maxDeliver: 5))
        try await body(js, stream, "workers")
        try await js.deleteStream(stream)
    }
}

@Suite(.enabled(if: natsURL != nil, "SIGHTLINE_TEST_NATS_URL is not set; start a server with scripts/nats-for-tests.sh start"))
struct JetStreamTests {
    @Test func creatingAStreamTwiceChangesNothingAndAChangedConfigUpdatesIt() async throws {
        try await withNATS { nats in
            let js = JetStream(connection: nats)
            let name = uniqueName("S")
            var config = JetStreamStreamConfig(name: name, subjects: [name + ".*"], retention: .limits, maxAge: .seconds(60), duplicateWindow: .seconds(10))
            let first = try await js.createOrUpdateStream(config)
            let second = try await js.createOrUpdateStream(config)
            #expect(first.name == name && second.name == name)
            config.maxAge = .seconds(120)
            config.subjects.append(name + ".extra.>")
            let updated = try await js.createOrUpdateStream(config)
            #expect(updated.name == name)
            _ = try await js.publish(name + ".extra.a.b", payload: [1])
            #expect(try await js.streamInfo(name).messages == 1)
            try await js.deleteStream(name)
            let gone = await asyncSightlineError { _ = try await js.streamInfo(name) }
            #expect(gone?.code == .notFound)
            #expect(gone?.message.contains("stream not found") == true)
        }
    }

    @Test func aBadStreamConfigFailsWithTheServersDescription() async throws {
        try await withNATS { nats in
            let js = JetStream(connection: nats)
            let name = uniqueName("BAD")
            let error = await asyncSightlineError {
                _ = try await js.createOrUpdateStream(
                    JetStreamStreamConfig(name: name, subjects: [name], maxAge: .seconds(1), duplicateWindow: .seconds(60)))
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("duplicates window can not be larger then max age") == true, "\(error?.message ?? "")")
            #expect((error?.cause as? JetStreamAPIError)?.status == 500 || (error?.cause as? JetStreamAPIError)?.status == 400)
            let badName = await asyncSightlineError { _ = try await js.createOrUpdateStream(JetStreamStreamConfig(name: "a.b", subjects: ["x"])) }
            #expect(badName?.message.contains("\"a.b\"") == true)
        }
    }

    @Test func publishingTheSameMessageIDTwiceIsADuplicate() async throws {
        try await withWorkQueue { js, stream, _ in
            let first = try await js.publish(stream + ".jobs", payload: Array("one".utf8), messageID: "job-1")
            #expect(first == JetStreamPubAck(stream: stream, sequence: 1, duplicate: false))
            let again = try await js.publish(stream + ".jobs", payload: Array("one".utf8), messageID: "job-1")
            #expect(again.duplicate)
            #expect(again.sequence == 1)
            let other = try await js.publish(stream + ".jobs", payload: Array("two".utf8), messageID: "job-2")
            #expect(other == JetStreamPubAck(stream: stream, sequence: 2, duplicate: false))
            #expect(try await js.streamInfo(stream).messages == 2)
        }
    }

    @Test func publishingWhereNoStreamListensFails() async throws {
        try await withNATS { nats in
            let js = JetStream(connection: nats)
            let subject = uniqueName("nostream")
            let error = await asyncSightlineError { _ = try await js.publish(subject, payload: [1]) }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains(subject) == true)
        }
    }

    @Test func fetchedAndAckedMessagesAreNotRedelivered() async throws {
        try await withWorkQueue(ackWait: .seconds(1)) { js, stream, consumer in
            for index in 0..<3 { _ = try await js.publish(stream + ".jobs", payload: Array("job \(index)".utf8), messageID: "m\(index)") }
            let batch = try await js.fetch(stream: stream, consumer: consumer, batch: 10, noWait: true)
            #expect(batch.map(\.bytes) == (0..<3).map { Array("job \($0)".utf8) })
            #expect(batch.map(\.metadata.streamSequence) == [1, 2, 3])
            #expect(batch.allSatisfy { $0.metadata.deliveryCount == 1 && $0.metadata.stream == stream && $0.metadata.consumer == consumer })
            #expect(batch.first?.headers?["Nats-Msg-Id"] == "m0")
            try await batch[0].inProgress()
            for message in batch { try await message.ackSync() }
            // Longer than ack_wait: an unacknowledged message would come back within this fetch.
            let later = try await js.fetch(stream: stream, consumer: consumer, batch: 10, expires: .milliseconds(2500))
            #expect(later.isEmpty)
            #expect(try await js.streamInfo(stream).messages == 0)
            #expect(try await js.consumerInfo(stream: stream, consumer: consumer).ackPending == 0)
        }
    }

    @Test func anUnackedMessageComesBackAfterAckWaitWithDeliveryCountTwo() async throws {
        try await withWorkQueue(ackWait: .seconds(1)) { js, stream, consumer in
            _ = try await js.publish(stream + ".jobs", payload: Array("retry me".utf8))
            let first = try await js.fetch(stream: stream, consumer: consumer, batch: 1)
            #expect(first.count == 1 && first.first?.metadata.deliveryCount == 1)
            let again = try await js.fetch(stream: stream, consumer: consumer, batch: 1, expires: .seconds(10))
            #expect(again.count == 1)
            #expect(again.first?.metadata.deliveryCount == 2)
            #expect(again.first?.metadata.streamSequence == first.first?.metadata.streamSequence)
            #expect(again.first?.bytes == Array("retry me".utf8))
            try await again.first?.ackSync()
        }
    }

    @Test func aNakedMessageComesBackAtOnce() async throws {
        try await withWorkQueue(ackWait: .seconds(60)) { js, stream, consumer in
            _ = try await js.publish(stream + ".jobs", payload: Array("nak me".utf8))
            let first = try await js.fetch(stream: stream, consumer: consumer, batch: 1)
            try await #require(first.first).nak()
            // ack_wait is a minute: only the nak can bring it back within this fetch.
            let again = try await js.fetch(stream: stream, consumer: consumer, batch: 1, expires: .seconds(10))
            #expect(again.first?.metadata.deliveryCount == 2)
            try await #require(again.first).term()
            let none = try await js.fetch(stream: stream, consumer: consumer, batch: 1, noWait: true)
            #expect(none.isEmpty)
        }
    }

    @Test func aMissingConsumerIsNotFoundAndFetchingFromItGivesNothing() async throws {
        try await withWorkQueue { js, stream, _ in
            // nats-server 2.9 does not answer a pull request for a consumer that does not exist: the fetch ends empty.
            let fetched = try await js.fetch(stream: stream, consumer: "nobody", batch: 1, expires: .milliseconds(200))
            #expect(fetched.isEmpty)
            let info = await asyncSightlineError { _ = try await js.consumerInfo(stream: stream, consumer: "nobody") }
            #expect(info?.code == .notFound)
            #expect(info?.message.contains("consumer not found") == true)
        }
    }

    @Test func cancellingAWaitingFetchEndsItAtOnce() async throws {
        try await withWorkQueue { js, stream, consumer in
            let fetch = Task { try await js.fetch(stream: stream, consumer: consumer, batch: 1, expires: .seconds(600)) }
            fetch.cancel()
            await #expect(throws: CancellationError.self) { _ = try await fetch.value }
            // The connection goes on working.
            _ = try await js.publish(stream + ".jobs", payload: [1])
            #expect(try await js.streamInfo(stream).messages == 1)
        }
    }
}
