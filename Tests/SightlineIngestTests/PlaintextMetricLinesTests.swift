import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineIngest

struct PlaintextMetricLinesTests {
    private func graphite(_ line: String, receivedAtMs: Int64 = 1_700_000_000_000) throws -> MetricSample {
        try GraphiteLine.parse(Array(line.utf8), receivedAtMs: receivedAtMs)
    }

    private func graphiteError(_ line: String) -> String? {
        sightlineError { _ = try graphite(line) }?.message
    }

    @Test func graphiteLinesKeepTheirPathAndTags() throws {
        let plain = try graphite("servers.web01.cpu.user 42.5 1700000000")
        #expect(plain == MetricSample(labels: Labels([Label("__name__", "servers.web01.cpu.user")]), timestampMs: 1_700_000_000_000, value: 42.5))
        let tagged = try graphite("disk.used;mount=/;host=web01;host=other 7 1700000000.25\r")
        #expect(tagged.labels.description == #"disk.used{host="web01", mount="/"}"#)
        #expect(tagged.timestampMs == 1_700_000_000_250)
        // Tabs and runs of spaces separate fields; no timestamp or -1 is the time the line arrived.
        #expect(try graphite("a.b\t\t-3e2").timestampMs == 1_700_000_000_000)
        #expect(try graphite("a.b  1  -1", receivedAtMs: 5_000).timestampMs == 5_000)
        #expect(try graphite("a.b -3e2").value == -300)
    }

    @Test func badGraphiteLinesNameTheirProblem() {
        #expect(graphiteError("just.a.path") == #"Graphite line "just.a.path": expected "path value [timestamp]", got 1 fields"#)
        #expect(graphiteError("a 1 2 3")?.contains("got 4 fields") == true)
        #expect(graphiteError("a.b x 1700000000")?.contains(#"value "x" is not a number"#) == true)
        #expect(graphiteError("a.b nan 1700000000")?.contains(#"value "nan" is not a number"#) == true)
        #expect(graphiteError("a.b 1 yesterday")?.contains(#"timestamp "yesterday" is not seconds since the epoch"#) == true)
        #expect(graphiteError("a.b 1 -5")?.contains(#"timestamp "-5""#) == true)
        #expect(graphiteError("a.b 1 1700000000000")?.contains("is not seconds since the epoch") == true)
        #expect(graphiteError(";host=a 1")?.contains("the path is empty") == true)
        #expect(graphiteError("a;host 1")?.contains(#"tag "host" is not name=value"#) == true)
        #expect(graphiteError("a;=x 1")?.contains(#"tag "=x" is not name=value"#) == true)
        #expect(graphiteError(String(repeating: "x", count: 300))?.contains("…") == true)
    }

    private func openTSDB(_ line: String) throws -> MetricSample {
        try OpenTSDBTelnetLine.parse(Array(line.utf8))
    }

    private func openTSDBError(_ line: String) -> String? {
        sightlineError { _ = try openTSDB(line) }?.message
    }

    @Test func openTSDBPutLinesMapAsTheHTTPAPIDoes() throws {
        let sample = try openTSDB("put sys.cpu.user 1700000000 42.5 host=web01 cpu=0")
        #expect(sample.labels.description == #"sys.cpu.user{cpu="0", host="web01"}"#)
        #expect(sample.timestampMs == 1_700_000_000_000 && sample.value == 42.5)
        #expect(try openTSDB("put m 1700000000123 1").timestampMs == 1_700_000_000_123)
        #expect(try openTSDB("put m 1700000000.5 1\r").timestampMs == 1_700_000_000_500)
        #expect(try openTSDB("put m 1700000000 1 __name__=x host=a host=b").labels.description == #"m{host="a"}"#)
    }

    @Test func badOpenTSDBLinesNameTheirProblem() {
        #expect(openTSDBError("version") == #"OpenTSDB line "version": only "put <metric> <timestamp> <value> <tag=value>…" is served"#)
        #expect(openTSDBError("put m 1700000000")?.contains("expected a metric, a timestamp and a value") == true)
        #expect(openTSDBError("put m soon 1")?.contains(#"timestamp "soon" is not seconds or milliseconds"#) == true)
        #expect(openTSDBError("put m 1.5 1")?.contains("is too early") == true)
        #expect(openTSDBError("put m 1700000000 x")?.contains(#"value "x" is not a number"#) == true)
        #expect(openTSDBError("put m 1700000000 nan")?.contains(#""value" is not a number"#) == true)
        #expect(openTSDBError("put m 1700000000 1 host")?.contains(#"tag "host" is not name=value"#) == true)
    }

    @Test func lineFramingEndsEveryMessageAtANewline() throws {
        // Lines framing never reads a leading digit as an octet count.
        let stream = Array("1min.load 0.5 1700000000\n\n2.x 1\nlast 3".utf8)
        for cut in 0...stream.count {
            var decoder = StreamFrameDecoder(.lines, maxFrameBytes: 64)
            var frames: [String] = []
            for part in [stream[..<cut], stream[cut...]] {
                decoder.append(part)
                while let frame = try decoder.next() { frames.append(String(decoding: frame, as: UTF8.self)) }
            }
            if let last = decoder.finish() { frames.append(String(decoding: last, as: UTF8.self)) }
            #expect(frames == ["1min.load 0.5 1700000000", "2.x 1", "last 3"], "cut at \(cut)")
        }
        var long = StreamFrameDecoder(.lines, maxFrameBytes: 4)
        long.append(Array("12345678".utf8))
        #expect(sightlineError { _ = try long.next() }?.message.contains("without a newline") == true)
    }
}
