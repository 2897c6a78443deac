import SightlineCore
import Testing

@testable import SightlineQuery

struct LogPatternTests {
    @Test func formatOfAStreamsFirstLine() {
        #expect(LogPatternTokenizer.detect(#"{"msg":"hello"}"#) == .json)
        #expect(LogPatternTokenizer.detect(#"level=info msg="hello world" took=5ms"#) == .logfmt)
        #expect(LogPatternTokenizer.detect("a=b c=d=e") == .logfmt)
        #expect(LogPatternTokenizer.detect("a=bc=d") == .logfmt)
        #expect(LogPatternTokenizer.detect("a=b  c=d") == .punctuation)
        #expect(LogPatternTokenizer.detect(#"a="" b=c"#) == .punctuation)
        #expect(LogPatternTokenizer.detect("GET /api/v1/orders 200") == .punctuation)
        #expect(LogPatternTokenizer.detect("") == .punctuation)
        // A long line is not looked at (the check is quadratic); a stream's format comes from a line that is read.
        #expect(LogPatternTokenizer.detect("a=" + String(repeating: "x", count: 200_000)) == .punctuation)
    }

    @Test func punctuationTokensKeepWordsAndSpaces() throws {
        let tokens = try #require(LogPatternTokenizer.punctuation.tokenize("key1=value1 key2:value2 (x, y)"))
        #expect(tokens.tokens == ["key1", "=", "value1", "key2:value2", "(", "x", ",", "y", ")"])
        #expect(tokens.spaces == [2, 3, 6])
        #expect(LogPatternTokenizer.punctuation.join(tokens.tokens, spaces: tokens.spaces) == "key1=value1 key2:value2 (x, y)")
        // Symbols stay inside words; the 128th token holds the rest of the line.
        #expect(LogPatternTokenizer.punctuation.tokenize("a$b+c <d>")?.tokens == ["a$b+c", "<d>"])
        let long = (0..<200).map { "w\($0)" }.joined(separator: " ")
        let cut = try #require(LogPatternTokenizer.punctuation.tokenize(long))
        #expect(cut.tokens.count == 128)
        #expect(cut.tokens.last == (127..<200).map { "w\($0)" }.joined(separator: " "))
        #expect(LogPatternTokenizer.punctuation.tokenize(String(repeating: "x", count: 3001)) == nil)
    }

    @Test func logfmtAndJSONTokens() throws {
        let logfmt = try #require(LogPatternTokenizer.logfmt.tokenize(#"ts=2024-01-01 level=info msg="a b" t=5 TraceID=x"#))
        #expect(logfmt.tokens == ["ts", "<_>", "level", "info", "msg", "a b", "t", "<_>", "TraceID", "<_>"])
        #expect(LogPatternTokenizer.logfmt.join(logfmt.tokens, spaces: []) == #"ts=<_> level=info msg="a b" t=<_> TraceID=<_>"#)
        #expect(LogPatternTokenizer.logfmt.tokenize(#"msg="unclosed"#) == nil)
        let json = try #require(LogPatternTokenizer.json.tokenize(#"{"level":"info","nested":{"msg":"no"},"msg":"user 7 logged in"}"#))
        #expect(json.tokens == ["user", "7", "logged", "in"])
        #expect(LogPatternTokenizer.json.join(json.tokens, spaces: json.spaces) == "<_>user 7 logged in<_>")
        #expect(LogPatternTokenizer.json.tokenize(#"{"level":"info"}"#) == nil)
        #expect(LogPatternTokenizer.collapsingPlaceholders("<_><_><_> x <_><_>") == "<_> x <_>")
    }

    @Test func drainMergesLinesOfOneShape() {
        var drain = Drain()
        for (index, line) in [
            "user 1 logged in from 10.0.0.1", "user 22 logged in from 10.0.0.2", "disk /dev/sda1 is 91 percent full",
            "user 3 logged in from 10.0.0.3",
        ].enumerated() {
            drain.train(LogPatternTokenizer.punctuation.tokenize(line)!, bucket: Int64(index))
        }
        let patterns = drain.clusters.values.map { LogPatternTokenizer.punctuation.join($0.tokens, spaces: $0.spaces) }.sorted()
        #expect(patterns == ["disk /dev/sda1 is 91 percent full", "user <_> logged in from <_>"])
        let users = drain.clusters.values.first { $0.tokens.first == "user" }
        #expect(users?.counts == [0: 1, 1: 1, 3: 1])
        // Too few tokens: passed by.
        var small = Drain()
        small.train(LogPatternTokenizer.punctuation.tokenize("two words")!, bucket: 0)
        #expect(small.clusters.isEmpty)
    }

    /// Only the newest three hours of a range are read, as Loki's pattern ingesters keep three hours.
    @Test func patternsComeFromTheNewestThreeHours() throws {
        let hour: Int64 = 3600
        var records: [LogRecord] = []
        for index in 0..<40 {
            records.append(MemoryLogSource.record(["app": "api"], Int64(index), "early job \(index) finished in \(index)ms"))
            records.append(MemoryLogSource.record(["app": "api"], 4 * hour + Int64(index), "late request \(index) took \(index)ms"))
        }
        let matchers = [try LabelMatcher("app", .equal, "api")]
        let end = (4 * hour + 100) * 1_000_000_000
        let found = try LogPatterns.find(source: MemoryLogSource(records), tenant: .default, matchers: matchers, start: 0, end: end, step: 60_000_000_000)
        #expect(found.map(\.pattern) == ["late request <_> took <_>"])
        let early = try LogPatterns.find(
            source: MemoryLogSource(records), tenant: .default, matchers: matchers, start: 0, end: 100_000_000_000, step: 60_000_000_000)
        #expect(early.map(\.pattern) == ["early job <_> finished in <_>"])
    }

    /// Patterns across streams of one level add up; rare ones and short lines are left out; counts fall in
    /// epoch-aligned steps with empty steps between filled with 0.
    @Test func patternsOfStoredLines() throws {
        var records: [LogRecord] = []
        for index in 0..<40 {
            let stream: KeyValuePairs<String, String> = index % 2 == 0 ? ["app": "api", "pod": "a"] : ["app": "api", "pod": "b"]
            // Seconds 0–19 and 60–79: buckets 0, 10, 60, 70 of a 10 s step; 0 and 60 of a 30 s step.
            let second = Int64(index < 20 ? index : index + 40)
            records.append(MemoryLogSource.record(stream, second, "GET /api/orders/\(index) 200 took \(index)ms"))
        }
        for index in 0..<10 { records.append(MemoryLogSource.record(["app": "api", "pod": "a"], Int64(index), "cache miss for key k\(index) ok")) }
        records.append(MemoryLogSource.record(["app": "web"], 1, "error: something failed badly here"))
        let source = MemoryLogSource(records)
        let matchers = [try LabelMatcher("app", .equal, "api")]
        let found = try LogPatterns.find(source: source, tenant: .default, matchers: matchers, start: 0, end: 100_000_000_000, step: 30_000_000_000)
        #expect(found == [LogPattern(pattern: "GET <_> 200 took <_>", level: "unknown", samples: [(0, 20), (30_000, 0), (60_000, 20)])])
        let fine = try LogPatterns.find(source: source, tenant: .default, matchers: matchers, start: 0, end: 100_000_000_000, step: 1_000_000_000)
        #expect(fine.first?.samples.map(\.t) == [0, 10_000, 60_000, 70_000])
        let none = try LogPatterns.find(source: source, tenant: .default, matchers: matchers, start: 0, end: 10_000_000_000, step: 10_000_000_000)
        #expect(none.isEmpty)
    }
}
