import SightlineCore
@testable import SightlineQuery
import Testing

/// Pipeline stages on realistic lines: parsers, label filters, formatters, label edits, `__error__`.
struct LogQLPipelineTests {
    /// Runs the pipeline of `query` on one line of stream `stream`; nil when the line is filtered out.
    private func run(
        _ query: String, _ line: String, stream: KeyValuePairs<String, String> = ["app": "api"], metadata: [Label] = [],
        timeNs: Int64 = 1_700_000_000_123_000_000
    ) throws -> (line: String, labels: [String: String])? {
        guard case .log(let selector) = try LogQLParser.parse(query) else {
            Issue.record("not a log query")
            return nil
        }
        let pipeline = try LogPipeline(selector.stages)
        var builder = LogLabelsBuilder()
        builder.reset(stream: Labels(stream), metadata: metadata)
        var output = line
        guard pipeline.process(line: &output, timeNs: timeNs, labels: &builder) else { return nil }
        var labels: [String: String] = [:]
        for label in builder.labels.labels { labels[label.name] = label.value }
        return (output, labels)
    }

    private let jsonLine = #"{"level":"error","req":{"method":"GET","path":"/api/v1","ms":12.5},"tags":["a","b"],"ok":true,"gone":null,"user-id":7,"msg":"line\nbreak"}"#

    @Test func jsonFlattensObjectsAndSkipsArrays() throws {
        let result = try #require(try run(#"{app="api"} | json"#, jsonLine, stream: ["app": "api", "level": "info"]))
        #expect(result.labels == [
            "app": "api", "level": "info", "level_extracted": "error", "req_method": "GET", "req_path": "/api/v1", "req_ms": "12.5",
            "ok": "true", "user_id": "7", "msg": "line\nbreak",
        ])
        #expect(result.line == jsonLine)
    }

    @Test func jsonExpressions() throws {
        let result = try #require(
            try run(#"{app="api"} | json method="req.method", first="tags[0]", req="req", missing="nope.x", lvl="['level']""#, jsonLine))
        #expect(result.labels["method"] == "GET")
        #expect(result.labels["first"] == "a")
        #expect(result.labels["req"] == #"{"method":"GET","path":"/api/v1","ms":12.5}"#)
        #expect(result.labels["missing"] == nil)
        #expect(result.labels["lvl"] == "error")
    }

    @Test func jsonErrorsSetErrorLabelAndCanBeFiltered() throws {
        let broken = try #require(try run(#"{app="api"} | json"#, #"{"level":"info""#))
        #expect(broken.labels["__error__"] == "JSONParserErr")
        #expect(broken.labels["__error_details__"] != nil)
        #expect(try run(#"{app="api"} | json | __error__="""#, "not json") == nil)
        #expect(try run(#"{app="api"} | json | __error__!="JSONParserErr""#, "not json") == nil)
        #expect(try run(#"{app="api"} | json | __error__="""#, jsonLine) != nil)
        // drop removes the error labels, as `| drop __error__, __error_details__` does in Loki.
        let dropped = try #require(try run(#"{app="api"} | json | drop __error__, __error_details__"#, "not json"))
        #expect(dropped.labels == ["app": "api"])
    }

    @Test func logfmt() throws {
        let line = #"ts=2024-01-01T00:00:00Z level=info msg="request done" duration=1.5s status=200 size=2KB empty= flag"#
        let result = try #require(try run(#"{app="api"} | logfmt"#, line))
        #expect(result.labels == [
            "app": "api", "ts": "2024-01-01T00:00:00Z", "level": "info", "msg": "request done", "duration": "1.5s", "status": "200",
            "size": "2KB",
        ])
        let keepEmpty = try #require(try run(#"{app="api"} | logfmt --keep-empty"#, "a=1 empty= flag"))
        #expect(keepEmpty.labels.keys.sorted() == ["a", "app"])
        let strict = try #require(try run(#"{app="api"} | logfmt --strict"#, #"a=1 b="unterminated"#))
        #expect(strict.labels["__error__"] == "LogfmtParserErr")
        let lenient = try #require(try run(#"{app="api"} | logfmt"#, #"a=1 b"c=2 d=3"#))
        #expect(lenient.labels["a"] == "1" && lenient.labels["d"] == "3" && lenient.labels["__error__"] == nil)
        let extracted = try #require(try run(#"{app="api"} | logfmt lvl="level", status"#, line))
        #expect(extracted.labels == ["app": "api", "lvl": "info", "status": "200"])
    }

    private let nginx = #"192.168.1.20 - frank [10/Oct/2023:13:55:36 +0000] "GET /index.html HTTP/1.1" 404 2326 "-" "curl/8.0""#

    @Test func regexpOnNginxLine() throws {
        let query = #"{app="api"} | regexp `^(?P<ip>\S+) \S+ (?P<user>\S+) \[[^\]]+\] "(?P<method>\w+) (?P<path>\S+) [^"]+" (?P<status>\d+) (?P<size>\d+)`"#
        let result = try #require(try run(query, nginx))
        #expect(result.labels == [
            "app": "api", "ip": "192.168.1.20", "user": "frank", "method": "GET", "path": "/index.html", "status": "404", "size": "2326",
        ])
        // A line that does not match keeps going without labels.
        let other = try #require(try run(query, "garbage"))
        #expect(other.labels == ["app": "api"])
    }

    @Test func patternOnNginxLine() throws {
        let query = #"{app="api"} | pattern `<ip> - <user> [<_>] "<method> <path> <_>" <status> <size> <_>`"#
        let result = try #require(try run(query, nginx))
        #expect(result.labels == [
            "app": "api", "ip": "192.168.1.20", "user": "frank", "method": "GET", "path": "/index.html", "status": "404", "size": "2326",
        ])
        #expect(try run(#"{app="api"} |> "<_> frank <_>""#, nginx) != nil)
        #expect(try run(#"{app="api"} |> "<_> alice <_>""#, nginx) == nil)
        #expect(try run(#"{app="api"} !> "<_> alice <_>""#, nginx) != nil)
    }

    @Test func unpack() throws {
        let result = try #require(try run(#"{app="api"} | unpack"#, #"{"_entry":"original line","pod":"p-1","app":"x","n":3}"#))
        #expect(result.line == "original line")
        #expect(result.labels == ["app": "api", "app_extracted": "x", "pod": "p-1"])
    }

    @Test func lineFilters() throws {
        let line = "level=error msg=timeout from 10.1.2.3"
        #expect(try run(#"{app="api"} |= "timeout""#, line) != nil)
        #expect(try run(#"{app="api"} |= "Timeout""#, line) == nil)
        #expect(try run(#"{app="api"} |~ "(?i)TIMEOUT""#, line) != nil)
        #expect(try run(#"{app="api"} !~ "level=(warn|error)""#, line) == nil)
        #expect(try run(#"{app="api"} |= "nope" or "timeout""#, line) != nil)
        // A negative filter with `or` keeps lines that contain none of the strings.
        #expect(try run(#"{app="api"} != "nope" or "timeout""#, line) == nil)
        #expect(try run(#"{app="api"} != "nope" or "other""#, line) != nil)
        #expect(try run(#"{app="api"} |= ip("10.0.0.0/8")"#, line) != nil)
        #expect(try run(#"{app="api"} |= ip("192.168.0.0-192.168.255.255")"#, line) == nil)
        #expect(try run(#"{app="api"} |= """#, line) != nil)
    }

    @Test func numericDurationAndBytesFilters() throws {
        let line = "status=503 latency=1.2s size=1.5KiB user=bob"
        #expect(try run(#"{app="api"} | logfmt | status >= 500"#, line) != nil)
        #expect(try run(#"{app="api"} | logfmt | status == 503 and user="bob""#, line) != nil)
        #expect(try run(#"{app="api"} | logfmt | status < 500 or user=~"b.b""#, line) != nil)
        #expect(try run(#"{app="api"} | logfmt | status < 500 or user="alice""#, line) == nil)
        #expect(try run(#"{app="api"} | logfmt | latency > 1s"#, line) != nil)
        #expect(try run(#"{app="api"} | logfmt | latency > 1500ms"#, line) == nil)
        #expect(try run(#"{app="api"} | logfmt | size > 1KB"#, line) != nil)
        #expect(try run(#"{app="api"} | logfmt | size >= 2KB"#, line) == nil)
        // A missing label fails a numeric filter; a value that does not convert sets LabelFilterErr and passes.
        #expect(try run(#"{app="api"} | logfmt | missing > 1"#, line) == nil)
        let bad = try #require(try run(#"{app="api"} | logfmt | user > 1"#, line))
        #expect(bad.labels["__error__"] == "LabelFilterErr")
        #expect(try run(#"{app="api"} | logfmt | user > 1 | __error__="""#, line) == nil)
        #expect(try run(#"{app="api"} | logfmt | addr = ip("10.0.0.0/8")"#, "addr=10.9.8.7") != nil)
        #expect(try run(#"{app="api"} | logfmt | addr = ip("2001:db8::/32")"#, "addr=2001:db8:0:1::42") != nil)
        #expect(try run(#"{app="api"} | logfmt | addr = ip("2001:db8::/32")"#, "addr=2001:db9::1") == nil)
        #expect(try run(#"{app="api"} | logfmt | addr = ip("::1")"#, "addr=0:0:0:0:0:0:0:1") != nil)
        #expect(try run(#"{app="api"} | logfmt | addr = ip("::ffff:10.0.0.0/104")"#, "addr=::ffff:10.1.2.3") != nil)
        #expect(try run(#"{app="api"} | logfmt | addr = ip("10.0.0.0/8")"#, "addr=::ffff:10.1.2.3") == nil)
        #expect(try run(#"{app="api"} |= ip("fe80::1-fe80::ff")"#, "from fe80::a0 port 22") != nil)
        #expect(try run(#"{app="api"} | logfmt | addr != ip("10.0.0.0/8")"#, "addr=10.9.8.7") == nil)
    }

    @Test func lineFormatTemplates() throws {
        let line = "level=warn path=/api/users status=404 took=0.25 user="
        func format(_ template: String) throws -> String? {
            try run(#"{app="api"} | logfmt | line_format `"# + template + "`", line)?.line
        }
        #expect(try format("{{.level}} {{.path}}") == "warn /api/users")
        #expect(try format("{{ .level | ToUpper }} {{ upper .path }}") == "WARN /API/USERS")
        #expect(try format(#"{{ printf "%s=%d took %.1f" .path .status .took }}"#) == "/api/users=404 took 0.2")
        #expect(try format(#"{{ .user | default "anonymous" }}"#) == "anonymous")
        #expect(try format(#"{{ if eq .level "warn" }}W{{ else if eq .level "error" }}E{{ else }}-{{ end }}"#) == "W")
        #expect(try format(#"{{ if .user }}user{{ else }}nobody{{ end }}"#) == "nobody")
        #expect(try format(#"{{ replace "/" "_" .path | trim }}"#) == "_api_users")
        #expect(try format("{{ __line__ }}") == line)
        #expect(try format("{{ __timestamp__ }}") == "2023-11-14 22:13:20.123 +0000 UTC")
        #expect(try format(#"{{ __timestamp__ | date "2006-01-02T15:04:05.000Z07:00" }}"#) == "2023-11-14T22:13:20.123Z")
        #expect(try format(#"{{ date "Mon Jan _2 03:04:05 PM 2006" __timestamp__ }}"#) == "Tue Nov 14 10:13:20 PM 2023")
        #expect(try format("{{ __timestamp__ | unixEpoch }} {{ unixEpochMillis __timestamp__ }}") == "1700000000 1700000000123")
        #expect(try format("{{ .missing }}|{{- .level -}} |") == "|warn|")
        #expect(try format(#"{{ ToLower "ABC" }}{{ lower "D" }} {{ trim "  x  " }}"#) == "abcd x")
        #expect(try format(#"[{{ alignLeft 6 .level }}][{{ alignRight 3 .path }}]"#) == "[warn  ][ers]")
        #expect(try format(#"{{ count "/" .path }} {{ round 2.345 2 }} {{ max 1 7 3 }} {{ floor 2.7 }}"#) == "2 2.35 7 2")
        #expect(try format(#"{{ urlencode "a b/c" }} {{ urldecode "a+b%2Fc" }} {{ b64enc "hello" }} {{ b64dec "aGVsbG8=" }}"#) == "a+b%2Fc a b/c aGVsbG8= hello")
        #expect(try format(#"{{ bytes "2KB" }} {{ duration "1m30s" }}"#) == "2000 90")
        // Absurd numbers from log lines do not trap.
        #expect(try format(#"{{ printf "%d %x %v" 1e300 1e300 1e300 }}|{{ repeat 1e30 "" }}|{{ substr -5 1e99 "abc" }}"#) != nil)
        #expect(try format(#"{{ regexReplaceAll "/(\\w+)" .path "[$1]" }}"#) == "[api][users]")
        // The rest of Go's template language: range over the labels, with, variables, named templates.
        let ranged = try format(#"{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}"#)
        #expect(ranged == "app=api;level=warn;path=/api/users;status=404;took=0.25;")
        #expect(try format("{{ . }}") == "map[app:api level:warn path:/api/users status:404 took:0.25]")
        #expect(try format(#"{{ with .level }}L={{ . }}{{ end }}{{ with .user }}U{{ else }}-{{ end }}"#) == "L=warn-")
        #expect(try format(#"{{ $p := .path }}{{ $p | ToUpper }}"#) == "/API/USERS")
        #expect(try format(#"{{ define "s" }}<{{ .status }}>{{ end }}{{ template "s" . }}"#) == "<404>")
    }

    @Test func labelNamesFromKeys() {
        // Parsers' keys (Loki's sanitising) and attribute keys (structured metadata): unchanged when already names.
        for (key, name) in [("level", "level"), ("http.status", "http_status"), (" 1abc ", "_1abc"), ("héllo", "h_llo"), ("a-b", "a_b"), ("", "")] {
            #expect(LabelKey.sanitize(key) == name, "\(key)")
        }
        for (key, name) in [("level", "level"), ("http.status", "http_status"), ("1a", "_a"), ("ok_1", "ok_1"), ("héllo", "h__llo")] {
            #expect(LogRecord.labelName(key) == name, "\(key)")
            #expect(LogRecord.isLabelName(name, of: key), "\(key)")
        }
    }

    @Test func labelFormatDropAndKeep() throws {
        let line = "level=warn path=/api status=404"
        let renamed = try #require(try run(#"{app="api"} | logfmt | label_format lvl=level, summary="{{.status}} {{.path}}""#, line))
        #expect(renamed.labels == ["app": "api", "lvl": "warn", "path": "/api", "status": "404", "summary": "404 /api"])
        let dropped = try #require(try run(#"{app="api"} | logfmt | drop path, status="500", level=~"w.*""#, line))
        #expect(dropped.labels == ["app": "api", "status": "404"])
        let kept = try #require(try run(#"{app="api"} | logfmt | keep level, status="500""#, line))
        #expect(kept.labels == ["level": "warn"])
        let keptError = try #require(try run(#"{app="api"} | json | keep app"#, line))
        #expect(keptError.labels["app"] == "api" && keptError.labels["__error__"] == "JSONParserErr")
    }

    @Test func structuredMetadataIsALabelAndParsersDoNotOverwriteIt() throws {
        let result = try #require(try run(#"{app="api"} | logfmt | trace_id="abc""#, "trace_id=zzz n=1", metadata: [Label("trace_id", "abc")]))
        #expect(result.labels == ["app": "api", "trace_id": "abc", "trace_id_extracted": "zzz", "n": "1"])
    }

    @Test func decolorize() throws {
        let result = try #require(try run(#"{app="api"} | decolorize"#, "\u{1B}[31mred\u{1B}[0m plain"))
        #expect(result.line == "red plain")
    }

    @Test func units() {
        #expect(LogQLUnits.durationNanoseconds("1h30m") == 5_400_000_000_000)
        #expect(LogQLUnits.durationNanoseconds("1.5s") == 1_500_000_000)
        #expect(LogQLUnits.durationNanoseconds("250us") == 250_000)
        #expect(LogQLUnits.durationNanoseconds("2d") == 172_800_000_000_000)
        #expect(LogQLUnits.durationNanoseconds("10") == nil)
        #expect(LogQLUnits.bytes("1KB") == 1000)
        #expect(LogQLUnits.bytes("1.5KiB") == 1536)
        #expect(LogQLUnits.bytes("3 MB") == 3_000_000)
        #expect(LogQLUnits.bytes("42") == 42)
        #expect(LogQLUnits.bytes("1XB") == nil)
        #expect(LogQLUnits.number("1e3") == 1000)
        #expect(LogQLUnits.number("-2.5") == -2.5)
        #expect(LogQLUnits.number("abc") == nil)
        #expect(LogQLUnits.number("010") == 10)
        #expect(LogQLUnits.number(".5") == 0.5)
        #expect(LogQLUnits.number("1.") == 1)
        #expect(LogQLUnits.number("-Inf") == -.infinity)
        #expect(LogQLUnits.number("1e400") == nil)
        #expect(LogQLUnits.number("0x10") == nil)
        #expect(LogQLUnits.number("1_000") == nil)
        #expect(LogQLUnits.number("12ms") == nil)
    }
}
