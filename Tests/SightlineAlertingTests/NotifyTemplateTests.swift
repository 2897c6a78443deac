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
        ("{{ .Receiver | urlquery }}", "team%20x"),
    ])
    func renders(template: String, expected: String) throws {
        #expect(try NotifyTemplate.render(template, data) == expected)
    }

    @Test(arguments: ["{{ .Status ", "{{ if .Status }}x", "{{ end }}", "{{ nosuch .Status }}", "{{ template \"missing\" }}", "{{ .Nope }}"])
    func failsClearly(template: String) {
        #expect(throws: NotifyTemplateError.self) { _ = try NotifyTemplate.render(template, data) }
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
