import SightlineCore
import Testing

@testable import SightlineScrape

struct RelabelerTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var input: [String: String]
        var configs: [RelabelConfig]
        /// nil when the labels are dropped.
        var output: [String: String]?
        var testDescription: String { name }
    }

    static let base: [String: String] = ["__name__": "http_requests_total", "job": "api", "instance": "10.0.0.1:8080", "code": "200"]

    static let cases: [Case] = [
        Case(name: "no configs", input: base, configs: [], output: base),
        Case(
            name: "replace with defaults copies the source", input: ["a": "foo"],
            configs: [RelabelConfig(sourceLabels: ["a"], targetLabel: "b")], output: ["a": "foo", "b": "foo"]),
        Case(
            name: "replace with $1 and separator", input: ["a": "foo", "b": "bar"],
            configs: [RelabelConfig(sourceLabels: ["a", "b"], separator: "-", regex: "f(o+)-(.*)", targetLabel: "c", replacement: "$2:$1")],
            output: ["a": "foo", "b": "bar", "c": "bar:oo"]),
        Case(
            name: "replace with ${1}suffix and $$", input: ["a": "foo"],
            configs: [RelabelConfig(sourceLabels: ["a"], regex: "(f)oo", targetLabel: "b", replacement: "${1}x$$y")],
            output: ["a": "foo", "b": "fx$y"]),
        Case(
            name: "$1x is the group named 1x: empty, so the label is removed", input: ["a": "foo", "b": "keep"],
            configs: [RelabelConfig(sourceLabels: ["a"], regex: "(f)oo", targetLabel: "b", replacement: "$1x")],
            output: ["a": "foo"]),
        Case(
            name: "named groups", input: ["a": "host-01.example"],
            configs: [RelabelConfig(sourceLabels: ["a"], regex: "(?P<host>[^.]+)\\.(?<domain>.*)", targetLabel: "h", replacement: "$host/${domain}")],
            output: ["a": "host-01.example", "h": "host-01/example"]),
        Case(
            name: "regex is anchored: partial match does nothing", input: ["a": "foobar"],
            configs: [RelabelConfig(sourceLabels: ["a"], regex: "foo", targetLabel: "b", replacement: "x")], output: ["a": "foobar"]),
        Case(
            name: "anchored alternation", input: ["a": "xbar"],
            configs: [RelabelConfig(sourceLabels: ["a"], regex: "x|xbar", targetLabel: "b", replacement: "hit")],
            output: ["a": "xbar", "b": "hit"]),
        Case(
            name: "missing source label is empty", input: ["a": "1"],
            configs: [RelabelConfig(sourceLabels: ["missing", "a"], regex: ";1", targetLabel: "b", replacement: "empty-then-1")],
            output: ["a": "1", "b": "empty-then-1"]),
        Case(
            name: "replace sets a constant when the value is empty", input: ["a": "1"],
            configs: [RelabelConfig(targetLabel: "env", replacement: "prod")], output: ["a": "1", "env": "prod"]),
        Case(
            name: "target label from a group", input: ["__meta_x": "zone"],
            configs: [RelabelConfig(sourceLabels: ["__meta_x"], targetLabel: "label_$1", replacement: "v")],
            output: ["__meta_x": "zone", "label_zone": "v"]),
        Case(
            name: "keep matching", input: base,
            configs: [RelabelConfig(action: .keep, sourceLabels: ["job"], regex: "api|web")], output: base),
        Case(
            name: "keep not matching drops", input: base,
            configs: [RelabelConfig(action: .keep, sourceLabels: ["job"], regex: "web")], output: nil),
        Case(
            name: "keep is anchored", input: base,
            configs: [RelabelConfig(action: .keep, sourceLabels: ["job"], regex: "ap")], output: nil),
        Case(
            name: "drop matching", input: base,
            configs: [RelabelConfig(action: .drop, sourceLabels: ["__name__", "code"], regex: "http_.*;2..")], output: nil),
        Case(
            name: "drop not matching keeps", input: base,
            configs: [RelabelConfig(action: .drop, sourceLabels: ["code"], regex: "5..")], output: base),
        Case(
            name: "drop on missing label matches empty", input: ["a": "1"],
            configs: [RelabelConfig(action: .drop, sourceLabels: ["b"], regex: "")], output: nil),
        Case(
            name: "labeldrop", input: ["a": "1", "tmp_x": "2", "tmp_y": "3"],
            configs: [RelabelConfig(action: .labelDrop, regex: "tmp_.*")], output: ["a": "1"]),
        Case(
            name: "labelkeep", input: ["__name__": "m", "a": "1", "b": "2"],
            configs: [RelabelConfig(action: .labelKeep, regex: "__name__|a")], output: ["__name__": "m", "a": "1"]),
        Case(
            name: "labelmap", input: ["__meta_kubernetes_pod_label_app": "web", "__meta_kubernetes_pod_label_tier": "fe", "x": "1"],
            configs: [RelabelConfig(action: .labelMap, regex: "__meta_kubernetes_pod_label_(.+)")],
            output: [
                "__meta_kubernetes_pod_label_app": "web", "__meta_kubernetes_pod_label_tier": "fe", "x": "1", "app": "web", "tier": "fe",
            ]),
        Case(
            name: "labelmap with replacement", input: ["a": "1"],
            configs: [RelabelConfig(action: .labelMap, regex: "(a)", replacement: "copy_of_$1")], output: ["a": "1", "copy_of_a": "1"]),
        Case(
            name: "hashmod", input: ["__address__": "localhost:9100"],
            configs: [RelabelConfig(action: .hashMod, sourceLabels: ["__address__"], targetLabel: "shard", modulus: 7)],
            output: ["__address__": "localhost:9100", "shard": "1"]),
        Case(
            name: "hashmod then keep a shard", input: ["a": "node-1", "b": "us-east"],
            configs: [
                RelabelConfig(action: .hashMod, sourceLabels: ["a", "b"], targetLabel: "__tmp_hash", modulus: 1000),
                RelabelConfig(action: .keep, sourceLabels: ["__tmp_hash"], regex: "583"),
            ],
            output: ["a": "node-1", "b": "us-east", "__tmp_hash": "583"]),
        Case(
            name: "keepequal and dropequal", input: ["a": "x", "b": "x", "c": "y"],
            configs: [RelabelConfig(action: .keepEqual, sourceLabels: ["a"], targetLabel: "b")],
            output: ["a": "x", "b": "x", "c": "y"]),
        Case(
            name: "dropequal drops", input: ["a": "x", "b": "x"],
            configs: [RelabelConfig(action: .dropEqual, sourceLabels: ["a"], targetLabel: "b")], output: nil),
        Case(
            name: "lowercase and uppercase", input: ["a": "MiXeD"],
            configs: [
                RelabelConfig(action: .lowercase, sourceLabels: ["a"], targetLabel: "lower"),
                RelabelConfig(action: .uppercase, sourceLabels: ["a"], targetLabel: "upper"),
            ],
            output: ["a": "MiXeD", "lower": "mixed", "upper": "MIXED"]),
        Case(
            name: "steps run in order", input: ["a": "1"],
            configs: [
                RelabelConfig(sourceLabels: ["a"], targetLabel: "b", replacement: "two"),
                RelabelConfig(action: .keep, sourceLabels: ["b"], regex: "two"),
                RelabelConfig(action: .labelDrop, regex: "a"),
            ],
            output: ["b": "two"]),
    ]

    @Test(arguments: cases)
    func relabels(_ testCase: Case) {
        let input = testCase.input.map { Label($0.key, $0.value) }
        let result = Relabeler.apply(input, testCase.configs)
        if let expected = testCase.output {
            #expect(result == expected.map { Label($0.key, $0.value) }.sorted { $0.name < $1.name })
        } else {
            #expect(result == nil)
        }
    }

    @Test func md5MatchesKnownDigests() {
        func hex(_ text: String) -> String {
            MD5.digest(Array(text.utf8)).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        }
        #expect(hex("") == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(hex("abc") == "900150983cd24fb0d6963f7d28e17f72")
        #expect(hex("The quick brown fox jumps over the lazy dog") == "9e107d9d372bb6826bd81d3542a419d6")
        #expect(hex(String(repeating: "a", count: 1000)) == "cabe45dcc9ae5b66ba86600cca6b8ba8")
    }

    @Test func validationNamesTheField() {
        func message(_ config: RelabelConfig) -> String? {
            do {
                try config.validate(field: "relabel_configs[3]")
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(message(RelabelConfig(sourceLabels: ["a"], targetLabel: "b")) == nil)
        #expect(message(RelabelConfig(sourceLabels: ["a"])) == "relabel_configs[3]: action replace requires target_label")
        #expect(
            message(RelabelConfig(action: .hashMod, sourceLabels: ["a"], targetLabel: "b"))
                == "relabel_configs[3]: action hashmod requires a non-zero modulus")
        #expect(message(RelabelConfig(action: .keep, regex: "a")) == "relabel_configs[3]: action keep requires source_labels")
        #expect(
            message(RelabelConfig(action: .labelDrop, sourceLabels: ["a"], regex: "a"))
                == "relabel_configs[3]: action labeldrop requires only regex, and no other fields")
        #expect(
            message(RelabelConfig(action: .drop, sourceLabels: ["a"], regex: "(unclosed"))?.hasPrefix(
                #"relabel_configs[3]: regex "(unclosed" does not compile"#) == true)
        #expect(RelabelConfig.Action(name: "LabelMap") == .labelMap)
        #expect(RelabelConfig.Action(name: "hashmod") == .hashMod)
        #expect(RelabelConfig.Action(name: "nope") == nil)
    }

    @Test func regexAssignmentRecompiles() {
        var config = RelabelConfig(action: .keep, sourceLabels: ["a"], regex: "x")
        #expect(Relabeler.apply([Label("a", "y")], [config]) == nil)
        config.regex = "y|z"
        #expect(Relabeler.apply([Label("a", "y")], [config]) == [Label("a", "y")])
    }
}
