import NIOCore
import SightlineCore
import SightlineTestSupport
import Synchronization
import Testing

@testable import SightlineNATS

/// A clock the test moves by hand (milliseconds since 1970), shared by the leases of one test so expiry needs no
/// sleeping.
final class ManualLeaseClock: Sendable {
    private let value: Atomic<Int64>

    /// A clock at `start`.
    init(start: Int64 = 1_800_000_000_000) { value = Atomic(start) }

    /// The current time.
    var now: Int64 { value.load(ordering: .sequentiallyConsistent) }

    /// Moves the clock forward.
    func advance(by duration: Duration) {
        value.add(duration.wholeNanoseconds / 1_000_000, ordering: .sequentiallyConsistent)
    }

    /// The clock as a lease takes it.
    var function: @Sendable () -> Int64 { { self.now } }
}

/// Runs `body` with two JetStream contexts on two connections, as two servers would have.
func withTwoServers(_ body: (JetStream, JetStream) async throws -> Void) async throws {
    try await withNATS { first in
        try await withNATS { second in
            try await body(JetStream(connection: first), JetStream(connection: second))
        }
    }
}

/// What a `run` loop reported, in order.
actor LeaseEvents {
    private(set) var events: [String] = []
    func add(_ event: String) { events.append(event) }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

@Suite(.enabled(if: natsURL != nil, "SIGHTLINE_TEST_NATS_URL is not set; start a server with scripts/nats-for-tests.sh start"))
struct JetStreamLeaseTests {
    @Test func exactlyOneOfTwoRacingServersWinsEachTime() async throws {
        try await withTwoServers { jsA, jsB in
            for round in 0..<20 {
                let name = uniqueName("race")
                let a = try JetStreamLease(jetStream: jsA, name: name, holder: "server-a", ttl: .seconds(30))
                let b = try JetStreamLease(jetStream: jsB, name: name, holder: "server-b", ttl: .seconds(30))
                async let wonA = a.tryAcquire()
                async let wonB = b.tryAcquire()
                let results = try await [wonA, wonB]
                #expect(results.filter { $0 }.count == 1, "round \(round): \(results)")
                let heldA = await a.isHeld
                let heldB = await b.isHeld
                #expect(heldA == results[0] && heldB == results[1], "round \(round)")
                let stored = try await a.currentClaim()
                #expect(stored?.holder == (results[0] ? "server-a" : "server-b"), "round \(round)")
            }
        }
    }

    @Test func exactlyOneOfTwoRacingServersTakesOverAnExpiredClaim() async throws {
        try await withTwoServers { jsA, jsB in
            let clock = ManualLeaseClock()
            for round in 0..<20 {
                let name = uniqueName("takeover")
                let dead = try JetStreamLease(jetStream: jsA, name: name, holder: "server-dead", ttl: .seconds(30), now: clock.function)
                #expect(try await dead.tryAcquire())
                clock.advance(by: .seconds(31))
                let a = try JetStreamLease(jetStream: jsA, name: name, holder: "server-a", ttl: .seconds(30), now: clock.function)
                let b = try JetStreamLease(jetStream: jsB, name: name, holder: "server-b", ttl: .seconds(30), now: clock.function)
                async let wonA = a.tryAcquire()
                async let wonB = b.tryAcquire()
                let results = try await [wonA, wonB]
                #expect(results.filter { $0 }.count == 1, "round \(round): \(results)")
                #expect(try await !dead.renew(), "round \(round)")
            }
        }
    }

    @Test func theServerRefusesAClaimWithAStaleExpectedSequence() async throws {
        try await withNATS { nats in
            let js = JetStream(connection: nats)
            let name = uniqueName("cas")
            let lease = try JetStreamLease(jetStream: js, name: name, holder: "server-a", ttl: .seconds(30))
            #expect(try await lease.tryAcquire())
            let claim = try #require(try await lease.currentClaim())
            let stale = await asyncSightlineError {
                _ = try await js.publish(
                    lease.subject, payload: Array(#"{"holder":"intruder","expires_ms":0}"#.utf8),
                    headers: NATSHeaders([("Nats-Expected-Last-Subject-Sequence", String(claim.sequence - 1))]))
            }
            #expect((stale?.cause as? JetStreamAPIError)?.errorCode == JetStreamLease.wrongLastSequenceErrorCode, "\(String(describing: stale))")
            #expect(stale?.message.contains("wrong last sequence") == true)
            #expect(try await lease.currentClaim() == claim)
        }
    }

    @Test func theHolderRenewsAndKeepsItTheOtherCannotTakeItBeforeExpiry() async throws {
        try await withTwoServers { jsA, jsB in
            let clock = ManualLeaseClock()
            let name = uniqueName("renew")
            let a = try JetStreamLease(jetStream: jsA, name: name, holder: "server-a", ttl: .seconds(30), now: clock.function)
            let b = try JetStreamLease(jetStream: jsB, name: name, holder: "server-b", ttl: .seconds(30), now: clock.function)
            #expect(try await a.tryAcquire())
            var token = try #require(await a.fencingToken)
            // Ten renewals, ttl/3 apart: 100 s in all, well past the first claim's expiry.
            for step in 0..<10 {
                clock.advance(by: .seconds(10))
                #expect(try await !b.tryAcquire(), "step \(step)")
                #expect(try await a.renew(), "step \(step)")
                #expect(await a.isHeld)
                #expect(await !b.isHeld)
                let next = try #require(await a.fencingToken)
                #expect(next > token)
                token = next
            }
            // tryAcquire by the holder itself renews rather than failing.
            #expect(try await a.tryAcquire())
            // renew without having won is false, not an error.
            #expect(try await !b.renew())
        }
    }

    @Test func whenTheHolderStopsRenewingTheOtherTakesOverWithinTTLPlusOneRetry() async throws {
        try await withTwoServers { jsA, jsB in
            let clock = ManualLeaseClock()
            let name = uniqueName("death")
            let ttl = Duration.seconds(30)
            let retry = Duration.seconds(10)  // ttl/3
            let a = try JetStreamLease(jetStream: jsA, name: name, holder: "server-a", ttl: ttl, safetyMargin: .seconds(5), now: clock.function)
            let b = try JetStreamLease(jetStream: jsB, name: name, holder: "server-b", ttl: ttl, safetyMargin: .seconds(5), now: clock.function)
            #expect(try await a.tryAcquire())
            // server-a dies now: no more renewals. server-b retries every ttl/3.
            var waited = Duration.zero
            var acquired = false
            while waited <= ttl + retry {
                clock.advance(by: retry)
                waited += retry
                if waited >= ttl - .seconds(5) { #expect(await !a.isHeld, "the dead holder stops acting a safety margin before expiry") }
                if try await b.tryAcquire() {
                    acquired = true
                    break
                }
                #expect(waited < ttl + retry)
            }
            #expect(acquired)
            #expect(waited > ttl - retry && waited <= ttl + retry, "taken over after \(waited)")
            // The old holder, back from the dead, finds it lost: renew is false and it does not hold.
            #expect(try await !a.renew())
            #expect(await !a.isHeld)
            #expect(try await !a.tryAcquire())
            #expect(await b.isHeld)
        }
    }

    @Test func releaseLetsTheOtherAcquireAtOnce() async throws {
        try await withTwoServers { jsA, jsB in
            let clock = ManualLeaseClock()
            let name = uniqueName("release")
            let a = try JetStreamLease(jetStream: jsA, name: name, holder: "server-a", ttl: .seconds(30), now: clock.function)
            let b = try JetStreamLease(jetStream: jsB, name: name, holder: "server-b", ttl: .seconds(30), now: clock.function)
            #expect(try await a.tryAcquire())
            #expect(try await !b.tryAcquire())
            try await a.release()
            #expect(await !a.isHeld)
            #expect(try await b.tryAcquire())
            // Releasing what we do not hold does nothing; the released holder cannot renew.
            try await a.release()
            #expect(try await !a.renew())
            #expect(try await a.currentClaim()?.holder == "server-b")
            // A release by a holder that already lost it does not overwrite the new holder's claim.
            clock.advance(by: .seconds(31))
            #expect(try await a.tryAcquire())
            #expect(try await !b.renew())
            try await b.release()
            #expect(try await a.currentClaim()?.holder == "server-a")
            #expect(await a.isHeld)
        }
    }

    @Test func aLostLeasesRenewReturnsFalse() async throws {
        try await withTwoServers { jsA, jsB in
            let clock = ManualLeaseClock()
            let name = uniqueName("lost")
            let a = try JetStreamLease(jetStream: jsA, name: name, holder: "server-a", ttl: .seconds(3), now: clock.function)
            let b = try JetStreamLease(jetStream: jsB, name: name, holder: "server-b", ttl: .seconds(3), now: clock.function)
            #expect(try await a.tryAcquire())
            clock.advance(by: .seconds(4))
            #expect(await !a.isHeld)
            #expect(try await b.tryAcquire())
            #expect(try await !a.renew())
            #expect(await a.fencingToken == nil)
            // A claim of ours that expired while nobody took it is renewed: nobody acted in between.
            clock.advance(by: .seconds(4))
            #expect(try await b.renew())
            #expect(await b.isHeld)
        }
    }

    @Test func runLoopsFailOverWhenTheHolderDiesAndReleaseOnCancel() async throws {
        let url = try #require(natsURL)
        let name = uniqueName("run")
        let ttl = Duration.milliseconds(1500)
        let interval = Duration.milliseconds(500)
        let natsA = try await NATSConnection.connect(to: url, options: NATSConnectionOptions(name: "lease-a", connectTimeout: .seconds(30)))
        let natsB = try await NATSConnection.connect(to: url, options: NATSConnectionOptions(name: "lease-b", connectTimeout: .seconds(30)))
        let a = try JetStreamLease(jetStream: JetStream(connection: natsA, timeout: .seconds(2)), name: name, holder: "server-a", ttl: ttl)
        let b = try JetStreamLease(jetStream: JetStream(connection: natsB), name: name, holder: "server-b", ttl: ttl)
        let events = LeaseEvents()
        let runA = Task { await a.run(every: interval, onAcquire: { await events.add("a+") }, onLose: { await events.add("a-") }) }
        #expect(await eventually(within: .seconds(5)) { await events.events == ["a+"] })
        let runB = Task { await b.run(every: interval, onAcquire: { await events.add("b+") }, onLose: { await events.add("b-") }) }
        // Three ttls with A renewing: B never gets it.
        try await Task.sleep(for: ttl * 3)
        #expect(await events.events == ["a+"])
        #expect(await a.isHeld)
        // A dies: its connection goes away, so it can neither renew nor release.
        let death = ContinuousClock.now
        await natsA.close()
        #expect(await eventually(within: .seconds(6)) { await events.events.contains("b+") })
        let takeover = ContinuousClock.now - death
        #expect(takeover <= ttl + interval + .milliseconds(700), "took \(takeover)")
        // A noticed on its own, before B took over.
        let order = await events.events
        #expect(order == ["a+", "a-", "b+"], "\(order)")
        runA.cancel()
        await runA.value
        // Cancelling B releases: a fresh lease acquires at once.
        runB.cancel()
        await runB.value
        #expect(await events.events.last == "b-")
        let c = try JetStreamLease(jetStream: JetStream(connection: natsB), name: name, holder: "server-c", ttl: ttl)
        #expect(try await c.tryAcquire())
        try await c.release()
        await natsB.close()
    }

    @Test func streamAndAPIErrorsAreClear() async throws {
        try await withNATS { nats in
            let js = JetStream(connection: nats)
            // Invalid names fail before any request.
            let badName = #expect(throws: SightlineError.self) { try JetStreamLease(jetStream: js, name: "a.b", holder: "x", ttl: .seconds(1)) }
            #expect(badName?.message.contains("\"a.b\"") == true)
            let badMargin = #expect(throws: SightlineError.self) {
                try JetStreamLease(jetStream: js, name: "a", holder: "x", ttl: .seconds(1), safetyMargin: .seconds(2))
            }
            #expect(badMargin?.message.contains("safety margin") == true)

            // A stream of our own, deleted behind the lease's back: a clear not-found error, then recreated.
            let stream = uniqueName("LEASES")
            let prefix = "leasetest." + stream.lowercased()
            let lease = try JetStreamLease(jetStream: js, name: "evaluator", holder: "server-a", ttl: .seconds(30), stream: stream, subjectPrefix: prefix)
            #expect(try await lease.tryAcquire())
            try await js.deleteStream(stream)
            let gone = await asyncSightlineError { _ = try await lease.tryAcquire() }
            #expect(gone?.code == .notFound)
            #expect(gone?.message.contains("stream not found") == true, "\(gone?.message ?? "")")
            #expect(gone?.message.contains("STREAM.MSG.GET.\(stream)") == true, "\(gone?.message ?? "")")
            #expect(try await lease.tryAcquire())

            // A second lease stream over the same subjects: the server's overlap error.
            let clash = try JetStreamLease(jetStream: js, name: "evaluator", holder: "server-b", ttl: .seconds(30), stream: stream + "X", subjectPrefix: prefix)
            let overlap = await asyncSightlineError { _ = try await clash.tryAcquire() }
            #expect(overlap?.message.contains("subjects overlap") == true, "\(overlap?.message ?? "")")

            // Something that is not a claim on the lease's subject: an error naming it, not a silent takeover.
            _ = try await js.publish(prefix + ".garbage", payload: Array("not json".utf8))
            let garbage = try JetStreamLease(jetStream: js, name: "garbage", holder: "server-a", ttl: .seconds(30), stream: stream, subjectPrefix: prefix)
            let unreadable = await asyncSightlineError { _ = try await garbage.tryAcquire() }
            #expect(unreadable?.message.contains("not {\"holder\",\"expires_ms\"} JSON") == true, "\(unreadable?.message ?? "")")
            #expect(unreadable?.message.contains("not json") == true)

            // The stream keeps one message per subject.
            for _ in 0..<5 { #expect(try await lease.renew()) }
            #expect(try await js.streamInfo(stream).messages == 2)
            try await js.deleteStream(stream)
        }
    }
}
