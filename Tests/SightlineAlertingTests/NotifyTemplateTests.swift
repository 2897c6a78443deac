import SightlineCore
import SightlineQuery
import Testing

@testable import SightlineAlerting

@Suite struct NotifyTemplateTests {
    let now = GoTime.Instant(milliseconds: 1_783_159_507_000)  // 2026-07-04T10:05:07Z
    let data: NotifyTemplateValue = .object([
        "Status": .string("firing"),
        "Receiver": .string("team x"),
        "ExternalURL": .string("http://am"),
        "GroupLabels": .kv([("alertname", "Disk")]),
        "CommonLabels": .kv([("alertname", "Disk"), ("job", "node")]),
        "Alerts": .list(
            [
                .object(["Labels": .kv([("instance", "a")]), "Annotations": .kv([("summary", "full")]), "Status": .string("firing")]),
                .object(["Labels": .kv([("instance", "b")]), "Annotations": .kv([]), "Status": .string("firing")]),
            ],
            fields: ["Firing": .list([.null, .null], fields: [:]), "Resolved": .list([], fields: [:])]),
    ])

    @Test(arguments: [
        ("{{ .Status }}", "firing"),
        ("{{ .Status | toUpper }} {{ .CommonLabels.alertname }}", "FIRING Disk"),
        ("{{ range .Alerts }}{{ .Labels.instance }}:{{ .Annotations.summary }};{{ end }}", "a:full;b:;"),
        ("{{ len .Alerts }}/{{ .Alerts.Firing | len }}", "2/2"),
        ("{{ .CommonLabels.Values | join \", \" }}", "Disk, node"),
        ("{{ if eq .Status \"firing\" }}F{{ else if eq .Status \"x\" }}X{{ else }}R{{ end }}", "F"),
        ("{{ if gt (len .Alerts) 5 }}many{{ else }}few{{ end }}", "few"),
        ("{{ range $i, $a := .Alerts }}{{ $i }}={{ $a.Labels.instance }} {{ end }}", "0=a 1=b "),
        ("{{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join \" \" }}{{ end }}", "node"),
        ("a  {{- \" b \" -}}  c", "a b c"),
        ("{{/* comment */}}x{{ printf \"%s-%d\" .Status 3 }}", "xfiring-3"),
        ("{{ define \"t\" }}<{{ . }}>{{ end }}{{ template \"t\" .Status }}", "<firing>"),
        ("{{ template \"__subject\" . }}", "[FIRING:2] Disk (node)"),
        ("{{ range .Alerts.Resolved }}x{{ else }}none{{ end }}", "none"),
        // Go's urlquery is url.QueryEscape: a space is "+".
        ("{{ .Receiver | urlquery }}", "team+x"),
        ("{{ .Status | title }} {{ \"  x \" | trimSpace }}|", "Firing x|"),
        ("{{ index .CommonLabels \"job\" }} {{ (index .Alerts 1).Labels.instance }}", "node b"),
        ("{{ printf \"%-8s|%5.1f|%q\" .Status 2.25 \"a\" }}", "firing  |  2.2|\"a\""),
        ("{{ reReplaceAll \"(.)isk\" \"$1-\" .CommonLabels.alertname }} {{ match \"^D\" .CommonLabels.alertname }}", "D- true"),
        ("{{ block \"b\" .Status }}[{{ . }}]{{ end }}", "[firing]"),
        ("{{ $s := .Status }}{{ range .Alerts }}{{ $s }}{{ end }}", "firingfiring"),
        // Go escapes byte by byte: a combining mark after < does not hide it.
        ("{{ \"<\u{301}b\" | html }}", "&lt;\u{301}b"),
    ])
    func renders(template: String, expected: String) throws {
        #expect(try NotifyTemplate.render(template, data, now: now) == expected)
    }

    @Test(arguments: [
        ("{{ .Status ", "template: notification:1: unclosed action"),
        ("{{ if .Status }}x", "template: notification:1: unexpected EOF"),
        ("{{ end }}", "template: notification:1: unexpected {{end}}"),
        ("{{ nosuch .Status }}", "template: notification:1: function \"nosuch\" not defined"),
        ("{{ template \"missing\" }}", "template: notification:1:0: executing \"notification\": no such template \"missing\""),
        ("{{ .Nope }}", "template: notification:1:3: executing \"notification\" at <.Nope>: can't evaluate field Nope in type struct"),
        ("{{ index .Alerts 5 }}", "template: notification:1:3: executing \"notification\" at <index .Alerts 5>: error calling index: index out of range: 5"),
        ("{{ toUpper 1 }}", "template: notification:1:3: executing \"notification\" at <toUpper 1>: wrong type for value; expected string; got int"),
        ("{{ define \"a\" }}{{ template \"a\" . }}{{ end }}{{ template \"a\" . }}",
         "template: a:1:16: executing \"a\": exceeded maximum template depth (100) calling \"a\""),
    ])
    func failsClearly(template: String, message: String) {
        #expect(throws: NotifyTemplateError.self) { _ = try NotifyTemplate.render(template, data, now: now) }
        do {
            _ = try NotifyTemplate.render(template, data, now: now)
        } catch {
            #expect("\(error)" == message)
        }
    }

    /// An alert that started at 2026-07-04T09:05:07.0123Z (summer) and one at 2026-01-15T23:30:00Z (winter).
    let timed: NotifyTemplateValue = .object([
        "Alerts": .list(
            [
                .object(["StartsAt": .time(GoTime.Instant(seconds: 1_783_155_907, nanosecond: 12_300_000), .utc), "EndsAt": .time(.zero, .utc)]),
                .object(["StartsAt": .time(GoTime.Instant(seconds: 1_768_519_800, nanosecond: 0), .utc), "EndsAt": .time(.zero, .utc)]),
            ], fields: [:]),
        "Count": .int(3),
    ])

    // Alertmanager's time functions and Go's time.Time methods; the zones come from the system's zone files
    // (Debian's tzdata, which scripts/test installs).
    @Test(arguments: [
        ("{{ (index .Alerts 0).StartsAt }}", "2026-07-04 09:05:07.0123 +0000 UTC"),
        ("{{ (index .Alerts 0).StartsAt | tz \"Europe/Paris\" }}", "2026-07-04 11:05:07.0123 +0200 CEST"),
        ("{{ range .Alerts }}{{ .StartsAt | tz \"Europe/Paris\" | date \"2006-01-02 15:04:05 MST\" }};{{ end }}",
         "2026-07-04 11:05:07 CEST;2026-01-16 00:30:00 CET;"),
        ("{{ range .Alerts }}{{ (.StartsAt | tz \"America/New_York\").Format \"Mon Jan 2 3:04PM MST\" }};{{ end }}",
         "Sat Jul 4 5:05AM EDT;Thu Jan 15 6:30PM EST;"),
        ("{{ with index .Alerts 0 }}{{ .StartsAt.Unix }} {{ .StartsAt.UnixMilli }} {{ .StartsAt.Year }} {{ .StartsAt.Month }} {{ .StartsAt.Weekday }}{{ end }}",
         "1783155907 1783155907012 2026 July Saturday"),
        ("{{ with index .Alerts 0 }}{{ .EndsAt.IsZero }} {{ .StartsAt.IsZero }} {{ .EndsAt }}{{ end }}", "true false 0001-01-01 00:00:00 +0000 UTC"),
        ("{{ with index .Alerts 0 }}{{ since .StartsAt }} {{ since .StartsAt | humanizeDuration }}{{ end }}", "59m59.9877s 59m 59s"),
        ("{{ $a := index .Alerts 0 }}{{ $b := index .Alerts 1 }}{{ $a.StartsAt.Sub $b.StartsAt }} {{ $b.StartsAt.Before $a.StartsAt }}",
         "4065h35m7.0123s true"),
        ("{{ with index .Alerts 1 }}{{ (.StartsAt.Add 90000000000).Format \"15:04:05\" }} {{ (.StartsAt.UTC).Hour }}{{ end }}", "23:31:30 23"),
        ("{{ with index .Alerts 0 }}{{ printf \"%v|%s|%d\" (since .StartsAt) (since .StartsAt) (since .StartsAt) }}{{ end }}",
         "59m59.9877s|59m59.9877s|3599987700000"),
        ("{{ if gt (since (index .Alerts 0).StartsAt).Hours 0.5 }}old{{ end }} {{ (since (index .Alerts 0).StartsAt).Minutes | printf \"%.0f\" }}", "old 60"),
        ("{{ humanizeDuration 3725 }} {{ humanizeDuration \"0.25\" }} {{ humanizeDuration .Count }}", "1h 2m 5s 250ms 3s"),
        ("{{ stringSlice \"a\" \"b c\" | join \",\" }} {{ len (stringSlice) }}", "a,b c 0"),
        ("{{ urlUnescape \"a%20b+c%2Fd\" }} {{ safeUrl \"http://x/?a=1\" }}", "a b c/d http://x/?a=1"),
        ("{{ if eq (safeHtml \"<b>\") \"<b>\" }}{{ safeHtml \"<b>\" | len }}{{ end }}", "3"),
        // Alertmanager 0.32–0.34: JSON, lists, maps, base64, now.
        ("{{ index .Alerts 0 | toJson }}", #"{"startsAt":"2026-07-04T09:05:07.0123Z","endsAt":"0001-01-01T00:00:00Z"}"#),
        ("{{ toJson \"<a&b>\" }} {{ toJson 0.0000001 }} {{ toJson (since (index .Alerts 0).StartsAt) }}", #""\u003ca\u0026b\u003e" 1e-7 3599987700000"#),
        ("{{ $d := dict \"b\" (list \"x\" 2) \"a\" 1 }}{{ $d.a }} {{ toJson $d }} {{ len $d }} {{ $d }} [{{ $d.nope }}]", #"1 {"a":1,"b":["x",2]} 2 map[a:1 b:[x 2]] [<no value>]"#),
        ("{{ range $k, $v := dict \"b\" 2 \"a\" 1 }}{{ $k }}={{ $v }};{{ end }}", "a=1;b=2;"),
        ("{{ append (list 1) 2 \"c\" | toJson }}", #"[1,2,"c"]"#),
        ("{{ base64encode \"~~~\" }} {{ base64decode \"fn5-\" }}", "fn5- ~~~"),
        ("{{ (now).Year }} {{ ((now).Sub (index .Alerts 0).StartsAt).Minutes | printf \"%.0f\" }}", "2026 60"),
    ])
    func timesAndDurations(template: String, expected: String) throws {
        #expect(try NotifyTemplate.render(template, timed, now: now) == expected)
    }

    @Test(arguments: [
        ("{{ (index .Alerts 0).StartsAt | tz \"Mars/Olympus\" }}",
         "template: notification:1:32: executing \"notification\" at <tz \"Mars/Olympus\">: error calling tz: unknown time zone Mars/Olympus"),
        ("{{ (index .Alerts 0).StartsAt | tz \"../etc/passwd\" }}",
         "template: notification:1:32: executing \"notification\" at <tz \"../etc/passwd\">: error calling tz: time: invalid location name"),
        ("{{ date \"2006\" \"2026-07-04\" }}",
         "template: notification:1:3: executing \"notification\" at <date \"2006\" \"2026-07-04\">: wrong type for value; expected time.Time; got string"),
        ("{{ urlUnescape \"100%zz\" }}",
         "template: notification:1:3: executing \"notification\" at <urlUnescape \"100%zz\">: error calling urlUnescape: invalid URL escape \"%zz\""),
        ("{{ (index .Alerts 0).StartsAt.Format }}",
         "template: notification:1:3: executing \"notification\" at <(index .Alerts 0).StartsAt.Format>: wrong number of args for Format: want 1 got 0"),
        ("{{ (index .Alerts 0).StartsAt.Nope }}",
         "template: notification:1:3: executing \"notification\" at <(index .Alerts 0).StartsAt.Nope>: can't evaluate field Nope in type time.Time"),
        ("{{ dict \"a\" }}",
         "template: notification:1:3: executing \"notification\" at <dict \"a\">: error calling dict: dict requires an even number of arguments"),
        ("{{ base64decode \"abc\" }}",
         "template: notification:1:3: executing \"notification\" at <base64decode \"abc\">: error calling base64decode: illegal base64 data at input byte 0"),
        ("{{ humanizeDuration .Alerts }}",
         "template: notification:1:3: executing \"notification\" at <humanizeDuration .Alerts>: error calling humanizeDuration: can't convert []interface {} to float"),
    ])
    func timeFailuresNameTheCause(template: String, message: String) {
        do {
            let rendered = try NotifyTemplate.render(template, timed, now: now)
            Issue.record("rendered \(rendered)")
        } catch {
            #expect("\(error)" == message)
        }
    }

    @Test func defaultLibraryParses() {
        #expect(NotifyTemplateLibrary.defaults.count >= 15)
    }

    @Test func hashesMatchKnownValues() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // Prometheus' fingerprint of the empty set is the FNV-1a offset basis.
        #expect(AlertFingerprint.of(Labels([])) == 14_695_981_039_346_656_037)
        #expect(AlertFingerprint.text(255) == "00000000000000ff")
    }
}
