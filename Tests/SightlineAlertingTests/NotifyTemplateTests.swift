import SightlineCore
import Testing

@testable import SightlineAlerting

@Suite struct NotifyTemplateTests {
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
    ])
    func renders(template: String, expected: String) throws {
        #expect(try NotifyTemplate.render(template, data) == expected)
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
        #expect(throws: NotifyTemplateError.self) { _ = try NotifyTemplate.render(template, data) }
        do {
            _ = try NotifyTemplate.render(template, data)
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
