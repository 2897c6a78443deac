import SightlineCore
import Testing

@testable import SightlineTSDB

private typealias F = HeadFixtures

struct HeadQueryTests {
    /// Four series: two jobs of one metric, one with an extra label, one of another metric.
    private func makeHead() -> Head {
        let head = Head()
        head.apply(F.batch(F.labels("http_requests_total", ["job": "api", "code": "200"]), [(1000, 1), (2000, 2)]), segment: 0)
        head.apply(F.batch(F.labels("http_requests_total", ["job": "api", "code": "500"]), [(1000, 1)]), segment: 0)
        head.apply(F.batch(F.labels("http_requests_total", ["job": "web"]), [(1500, 1)]), segment: 0)
        head.apply(F.batch(F.labels("up", ["job": "apiserver"]), [(5000, 1)]), segment: 0)
        return head
    }

    private func names(_ head: Head, _ matchers: [LabelMatcher]) throws -> [String] {
        try head.select(matchers: matchers, minTime: .min, maxTime: .max).map(\.labels.description)
    }

    @Test func equalAndNotEqual() throws {
        let head = makeHead()
        #expect(
            try names(head, [try F.matcher("job", .equal, "api")]) == [
                "http_requests_total{code=\"200\", job=\"api\"}", "http_requests_total{code=\"500\", job=\"api\"}",
            ])
        #expect(
            try names(head, [try F.matcher("__name__", .equal, "http_requests_total"), try F.matcher("code", .notEqual, "200")])
                == ["http_requests_total{code=\"500\", job=\"api\"}", "http_requests_total{job=\"web\"}"])
        #expect(try names(head, [try F.matcher("job", .equal, "nope")]).isEmpty)
    }

    @Test func emptyStringMatchesSeriesWithoutTheLabel() throws {
        let head = makeHead()
        // code="" selects series without `code`.
        #expect(try names(head, [try F.matcher("code", .equal, "")]) == ["http_requests_total{job=\"web\"}", "up{job=\"apiserver\"}"])
        // code!="" selects series with it.
        #expect(try names(head, [try F.matcher("code", .notEqual, "")]).count == 2)
        // code=~"200|" selects code 200 and series without the label.
        #expect(
            try names(head, [try F.matcher("code", .regexMatch, "200|")]) == [
                "http_requests_total{code=\"200\", job=\"api\"}", "http_requests_total{job=\"web\"}", "up{job=\"apiserver\"}",
            ])
        // code!~".+" selects series without the label.
        #expect(try names(head, [try F.matcher("code", .regexNoMatch, ".+")]).count == 2)
        // A label nobody has: ="" matches all, !="" none.
        #expect(try names(head, [try F.matcher("missing", .equal, "")]).count == 4)
        #expect(try names(head, [try F.matcher("missing", .notEqual, "")]).isEmpty)
    }

    @Test func regexesAreAnchored() throws {
        let head = makeHead()
        #expect(try names(head, [try F.matcher("job", .regexMatch, "api")]).count == 2)  // not apiserver
        #expect(try names(head, [try F.matcher("job", .regexMatch, "api.*")]).count == 3)
        #expect(try names(head, [try F.matcher("job", .regexMatch, "pi")]).isEmpty)
        #expect(
            try names(head, [try F.matcher("__name__", .regexMatch, ".+"), try F.matcher("job", .regexNoMatch, "api|web")])
                == ["up{job=\"apiserver\"}"])
    }

    @Test func timeRangeFiltersSeriesAndSamples() throws {
        let head = makeHead()
        let inRange = try head.select(matchers: [try F.matcher("__name__", .regexMatch, ".*")], minTime: 1500, maxTime: 2000)
        #expect(inRange.map(\.timestampsMs) == [[2000], [1500]])
        #expect(try head.select(matchers: [], minTime: 3000, maxTime: 1000).isEmpty)
    }

    @Test func labelNamesAndValues() throws {
        let head = makeHead()
        #expect(head.labelNames(matchers: [], minTime: .min, maxTime: .max) == ["__name__", "code", "job"])
        #expect(head.labelNames(matchers: [try F.matcher("__name__", .equal, "up")], minTime: .min, maxTime: .max) == ["__name__", "job"])
        #expect(head.labelValues(name: "job", matchers: [], minTime: .min, maxTime: .max) == ["api", "apiserver", "web"])
        #expect(
            head.labelValues(name: "job", matchers: [try F.matcher("__name__", .equal, "http_requests_total")], minTime: .min, maxTime: .max)
                == ["api", "web"])
        // Only series with data in the range count.
        #expect(head.labelValues(name: "job", matchers: [], minTime: 4000, maxTime: 6000) == ["apiserver"])
        #expect(head.labelValues(name: "nope", matchers: [], minTime: .min, maxTime: .max).isEmpty)
    }

    @Test func selectChunksIncludesOpenAndOutOfOrderChunks() throws {
        let head = Head()
        let labels = F.labels("m")
        head.apply(F.batch(labels, (0..<130).map { (Int64($0) * 1000 + 10_000, Double($0)) }), segment: 0)
        head.apply(F.batch(labels, [(5500 + 10_000, 99.5), (500 + 10_000, 0.5)]), segment: 0)
        let series = head.selectChunks(matchers: [try F.matcher("__name__", .equal, "m")], minTime: .min, maxTime: .max)
        #expect(series.count == 1)
        let chunks = series.first?.chunks ?? []
        #expect(chunks.map(\.sampleCount).sorted() == [2, 10, 120])
        #expect(chunks.map(\.minTime) == chunks.map(\.minTime).sorted())
        let merged = try ChunkCodec.merge(chunks)
        let decoded = try merged.map { try ChunkCodec.decodeAll($0) }
        #expect(decoded.reduce(0) { $0 + $1.timestamps.count } == 132)
        // A range that only touches the open chunk.
        let tail = head.selectChunks(matchers: [], minTime: 135_000, maxTime: 200_000)
        #expect(tail.first?.chunks.map(\.sampleCount) == [10])
    }
}
