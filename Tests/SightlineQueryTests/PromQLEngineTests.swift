import SightlineCore
import Testing
@testable import SightlineQuery

/// API-level behaviour of ``PromQLEngine``: parameter checks, error kinds and messages, limits, result shapes.
@Suite struct PromQLEngineTests {
    static func engine(_ configure: (inout PromQLEngine.Options) -> Void = { _ in }) -> PromQLEngine {
        let storage = PromQLTestStorage()
        storage.add(Labels(["__name__": "up", "job": "a"]), (0..<20).map { (Int64($0) * 15_000, 1.0) })
        storage.add(Labels(["__name__": "up", "job": "b"]), [(0, 0), (15_000, 0), (30_000, StaleNaN.value)])
        var options = PromQLEngine.Options()
        configure(&options)
        return PromQLEngine(querier: storage, options: options)
    }

    func error(_ body: () throws(PromQLError) -> PromQLResult) -> PromQLError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }

    @Test func instantVectorDropsStaleSeries() throws {
        let result = try Self.engine().instantQuery("up", tenant: .default, timeMs: 60_000)
        guard case .vector(let samples) = result.value else {
            Issue.record("expected a vector")
            return
        }
        #expect(samples.map { $0.metric["job"] } == ["a"])
        #expect(samples.first?.t == 60_000)
    }

    @Test func rangeQueryDropsNameAndSorts() throws {
        let result = try Self.engine().rangeQuery("up * 2", tenant: .default, startMs: 0, endMs: 30_000, stepMs: 15_000)
        guard case .matrix(let series) = result.value else {
            Issue.record("expected a matrix")
            return
        }
        #expect(series.map { $0.metric } == [Labels(["job": "a"]), Labels(["job": "b"])])
        #expect(series[0].points.map(\.v) == [2, 2, 2])
        #expect(series[1].points.map(\.t) == [0, 15_000])  // the staleness marker at 30s ends job="b"
    }

    @Test func scalarResult() throws {
        let result = try Self.engine().instantQuery("1 + 2", tenant: .default, timeMs: 5_000)
        guard case .scalar(let t, let v) = result.value else {
            Issue.record("expected a scalar")
            return
        }
        #expect(t == 5_000 && v == 3)
    }

    @Test func rangeParameterErrors() {
        let engine = Self.engine()
        let negativeStep = error { () throws(PromQLError) in try engine.rangeQuery("up", tenant: .default, startMs: 0, endMs: 10, stepMs: 0) }
        #expect(negativeStep?.kind == .badData)
        #expect(negativeStep?.message == "zero or negative query resolution step widths are not accepted. Try a positive integer")
        let backwards = error { () throws(PromQLError) in try engine.rangeQuery("up", tenant: .default, startMs: 10, endMs: 0, stepMs: 1) }
        #expect(backwards?.message == "end timestamp must not be before start time")
        let tooMany = error { () throws(PromQLError) in
            try engine.rangeQuery("up", tenant: .default, startMs: 0, endMs: 11_001_000, stepMs: 1_000)
        }
        #expect(tooMany?.kind == .badData)
        #expect(
            tooMany?.message
                == "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
    }

    @Test func parseErrorIsBadData() {
        let failure = error { () throws(PromQLError) in try Self.engine().instantQuery("sum(", tenant: .default, timeMs: 0) }
        #expect(failure?.kind == .badData)
        #expect(failure?.message.contains("parse error") == true)
    }

    @Test func tooManySamples() {
        let engine = Self.engine { $0.maxSamples = 3 }
        let failure = error { () throws(PromQLError) in try engine.instantQuery("up[5m]", tenant: .default, timeMs: 300_000) }
        #expect(failure?.kind == .execution)
        #expect(failure?.message == "query processing would load too many samples into memory in query execution")
    }

    @Test func timeout() {
        let engine = Self.engine { $0.timeout = .zero }
        let failure = error { () throws(PromQLError) in
            try engine.rangeQuery("up", tenant: .default, startMs: 0, endMs: 60_000, stepMs: 1_000)
        }
        #expect(failure?.kind == .timeout)
        #expect(failure?.message == "query timed out in expression evaluation")
    }

    @Test func duplicateLabelsetAfterNameRemoval() {
        let storage = PromQLTestStorage()
        storage.add(Labels(["__name__": "a", "x": "1"]), [(0, 1)])
        storage.add(Labels(["__name__": "b", "x": "1"]), [(0, 2)])
        let engine = PromQLEngine(querier: storage)
        let failure = error { () throws(PromQLError) in try engine.instantQuery("-{x=\"1\"}", tenant: .default, timeMs: 0) }
        #expect(failure?.message == "vector cannot contain metrics with the same labelset")
    }

    @Test func rangeQueryRejectsRangeVectors() {
        let failure = error { () throws(PromQLError) in
            try Self.engine().rangeQuery("up[1m]", tenant: .default, startMs: 0, endMs: 10_000, stepMs: 1_000)
        }
        #expect(failure?.kind == .badData)
    }
}
