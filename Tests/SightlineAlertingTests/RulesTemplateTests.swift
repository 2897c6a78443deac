import SightlineCore
import SightlineQuery
import SightlineTestSupport
import Testing

@testable import SightlineAlerting

/// Alert templates against the outputs of Prometheus' own template tests.
struct RulesTemplateTests {
    private func expand(_ text: String, value: Double = 0, labels: Labels = Labels(["instance": "host:9100", "job": "node"])) -> String {
        RuleTemplate.expand(
            text, name: "__alert_Test", labels: labels, externalLabels: Labels(["cluster": "eu1"]),
            externalURL: "http://sightline.example:7600/prefix", value: value, evaluationTimeMs: 1_000_000)
    }

    @Test func variablesAndFields() {
        #expect(expand("{{ $labels.instance }} of {{ $labels.job }}") == "host:9100 of node")
        #expect(expand("{{ .Labels.job }}/{{ .Value }}", value: 2.5) == "node/2.5")
        #expect(expand("{{ $value }}", value: 1e6) == "1e+06")
        #expect(expand("{{ $externalLabels.cluster }} {{ $externalURL }}") == "eu1 http://sightline.example:7600/prefix")
        #expect(expand("[{{ $labels.missing }}]") == "[]")
        #expect(expand("no actions at all") == "no actions at all")
        #expect(expand("{{/* a comment */}}x  {{- \" y\" -}}  z") == "x yz")
        // Named templates, as Go's text/template has them: a definition sees only its own dot.
        #expect(expand("{{ define \"who\" }}{{ .job }}@{{ .instance }}{{ end }}{{ template \"who\" $labels }}") == "node@host:9100")
        #expect(expand("{{ block \"v\" $value }}<{{ . }}>{{ end }}", value: 3) == "<3>")
        #expect(expand("{{ template \"nope\" }}").contains("no such template \"nope\""))
    }

    @Test func humanizeMatchesPrometheus() {
        let cases: [(Double, String)] = [(0, "0"), (1, "1"), (1234567, "1.235M"), (0.12, "120m"), (-1500, "-1.5k"), (1e-7, "100n")]
        for (value, expected) in cases { #expect(expand("{{ humanize $value }}", value: value) == expected) }
        let binary: [(Double, String)] = [(0, "0"), (1, "1"), (1048576, "1Mi"), (0.12, "0.12"), (2048, "2ki")]
        for (value, expected) in binary { #expect(expand("{{ humanize1024 $value }}", value: value) == expected) }
    }

    @Test func humanizeDurationMatchesPrometheus() {
        let cases: [(Double, String)] = [
            (0, "0s"), (1, "1s"), (60, "1m 0s"), (3600, "1h 0m 0s"), (86400, "1d 0h 0m 0s"), (86400 + 3600, "1d 1h 0m 0s"),
            (-(86400 * 2 + 3600 * 3 + 60 * 4 + 5), "-2d 3h 4m 5s"), (899.99, "14m 59s"), (0.1, "100ms"), (0.0001, "100us"),
            (0.12345, "123.5ms"), (60.1, "1m 0s"), (60.5, "1m 0s"), (1.2345, "1.234s"), (12.345, "12.35s"),
            (.infinity, "+Inf"), (-.infinity, "-Inf"), (.nan, "NaN"),
        ]
        for (value, expected) in cases { #expect(expand("{{ $value | humanizeDuration }}", value: value) == expected) }
    }

    @Test func percentageAndTimestamp() {
        let cases: [(Double, String)] = [(0, "0%"), (0.1234567, "12.35%"), (1, "100%"), (1.5, "150%")]
        for (value, expected) in cases { #expect(expand("{{ humanizePercentage $value }}", value: value) == expected) }
        #expect(expand("{{ $value | humanizeTimestamp }}", value: 1435065584.128) == "2015-06-23 13:19:44.128 +0000 UTC")
        #expect(expand("{{ humanizeTimestamp $value }}", value: 0) == "1970-01-01 00:00:00 +0000 UTC")
        #expect(expand("{{ \"1234567\" | humanize }}") == "1.235M")
    }

    @Test func stringFunctions() {
        #expect(expand("{{ \"aa bb CC\" | title }}") == "Aa Bb CC")
        #expect(expand("{{ \"aa bb CC\" | toUpper }}") == "AA BB CC")
        #expect(expand("{{ \"aa bb CC\" | toLower }}") == "aa bb cc")
        #expect(expand("{{ match \"a+\" \"baab\" }} {{ match \"^a+$\" \"b\" }}") == "true false")
        #expect(expand("{{ reReplaceAll \"(a)b\" \"x$1\" \"abcab\" }}") == "xacxa")
        #expect(expand("{{ reReplaceAll \":.*\" \"\" $labels.instance }}") == "host")
        #expect(expand("{{ $labels.instance | stripPort }}") == "host")
        #expect(expand("{{ printf \"%.2f|%d|%s|%5.1f|%v\" $value 3 \"x\" 2.25 $value }}", value: 1.005) == "1.00|3|x|  2.2|1.005")
        #expect(expand("{{ printf \"%q %x\" \"a\" 255 }}") == "\"a\" ff")
        #expect(expand("{{ printf \"%d\" }}") == "%!d(MISSING)")
        #expect(expand("{{ graphLink \"up == 0\" }}") == "/graph?g0.expr=up+%3D%3D+0&g0.tab=0")
        #expect(expand("{{ pathPrefix }}") == "/prefix")
    }

    @Test func controlStructures() {
        #expect(expand("{{ if gt $value 1.0 }}high{{ else }}low{{ end }}", value: 2) == "high")
        #expect(expand("{{ if gt $value 1.0 }}high{{ else if gt $value 0.5 }}mid{{ else }}low{{ end }}", value: 0.7) == "mid")
        #expect(expand("{{ if eq $labels.job \"node\" \"api\" }}yes{{ end }}") == "yes")
        #expect(expand("{{ if and $labels.job (not $labels.x) }}ok{{ end }}") == "ok")
        #expect(expand("{{ with $labels.job }}job={{ . }}{{ end }}") == "job=node")
        #expect(expand("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}") == "instance=host:9100;job=node;")
        #expect(expand("{{ $x := \"a\" }}{{ $x = \"b\" }}{{ $x }}") == "b")
        #expect(expand("{{ len $labels }}") == "2")
        // break and continue end the innermost range, also from inside if and with; a range's else is outside it.
        #expect(expand("{{ range $k, $v := $labels }}{{ if eq $k \"job\" }}{{ break }}{{ end }}{{ $k }};{{ end }}") == "instance;")
        #expect(expand("{{ range $labels }}{{ with . }}{{ if eq . \"node\" }}{{ continue }}{{ end }}{{ end }}[{{ . }}]{{ end }}") == "[host:9100]")
        #expect(expand("{{ range 3 }}{{ range $labels }}{{ break }}x{{ end }}{{ . }}{{ end }}") == "012")
        #expect(expand("{{ range 2 }}{{ range $.Nothing }}{{ else }}{{ continue }}{{ end }}x{{ end }}").contains("can't evaluate field Nothing"))
        #expect(expand("{{ range 3 }}{{ $x := . }}{{ if eq . 1 }}{{ continue }}{{ end }}{{ $x }}{{ end }}") == "02")
    }

    @Test func errorsGoIntoTheText() {
        let bad = expand("{{ humanize \"one\" }}")
        #expect(bad.hasPrefix("<error expanding template: error executing template __alert_Test: template: __alert_Test:1:"))
        #expect(bad.contains("at <humanize \"one\">: error calling humanize: strconv.ParseFloat: parsing \"one\": invalid syntax>"))
        #expect(expand("{{ if gt $value 1 }}x{{ end }}").contains("incompatible types for comparison"))
        #expect(expand("{{ .Nope }}").contains("can't evaluate field Nope"))
    }

    @Test func parseErrorsAreGoMessages() throws {
        func parseError(_ text: String) -> String {
            do {
                _ = try GoTemplate(name: "t", text: text, functions: RuleTemplate.functionNames)
                return ""
            } catch {
                return error.message
            }
        }
        #expect(parseError("{{ humanise 1 }}") == "template: t:1: function \"humanise\" not defined")
        #expect(parseError("{{ if 1 }}x") == "template: t:1: unexpected EOF")
        #expect(parseError("a\n{{ end }}") == "template: t:2: unexpected {{end}}")
        #expect(parseError("{{ else if 1 }}") == "template: t:1: unexpected {{else}}")
        #expect(parseError("{{ $nope }}") == "template: t:1: undefined variable \"$nope\"")
        #expect(parseError("{{ \"x }}") == "template: t:1: unterminated quoted string")
        #expect(parseError("{{ 1 ") == "template: t:1: unclosed action")
        #expect(parseError("{{ $labels.job }}") == "template: t:1: undefined variable \"$labels\"")
        #expect(parseError("{{ break }}") == "template: t:1: {{break}} outside {{range}}")
        #expect(parseError("{{ range 1 }}{{ else }}{{ continue }}{{ end }}") == "template: t:1: {{continue}} outside {{range}}")
        #expect(parseError("{{ range 1 }}{{ define \"d\" }}{{ break }}{{ end }}{{ end }}") == "template: t:1: unexpected <define> in command")
        #expect(parseError("{{ define \"d\" }}{{ break }}{{ end }}{{ range 1 }}{{ template \"d\" }}{{ end }}") == "template: t:1: {{break}} outside {{range}}")
        #expect(parseError("{{ range 1 }}{{ break 2 }}{{ end }}") == "template: t:1: unexpected <2> in {{break}}")
    }

    /// Random fragments of template syntax never crash the parser or the executor: they expand or report an error.
    @Test func randomTemplatesNeverCrash() {
        let pieces = [
            "{{", "}}", "{{-", "-}}", " ", "$labels", ".Labels", ".x", "$value", "|", "(", ")", "\"", "`", "if", "else", "end", "range",
            "with", "humanize", "printf", "\"%d %s %.2f\"", "1", "1.5", "-2", ":=", "=", "$x", ",", "eq", "and", "/*", "*/", "\n", "a",
            "reReplaceAll", "\"(\"", "match", "index", "len", "$", ".", "0x1F", "nil", "true",
        ]
        var random = SplitMix64(seed: 7)
        for _ in 0..<3000 {
            let count = Int(random.next() % 12) + 1
            var text = ""
            for _ in 0..<count { text += pieces[Int(random.next() % UInt64(pieces.count))] }
            let result = expand(text, value: 3)
            #expect(!result.isEmpty || !text.contains("{{") || text.contains("}}"))
        }
    }
}
