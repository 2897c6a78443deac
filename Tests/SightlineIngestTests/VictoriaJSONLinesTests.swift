import SightlineCore
import Testing

@testable import SightlineIngest

struct VictoriaJSONLinesTests {
    private func parse(_ text: String, extra: [Label] = []) -> VictoriaJSONLines.Parsed {
        Array(text.utf8).withUnsafeBytes { VictoriaJSONLines.parse($0, extraLabels: extra) }
    }

    @Test func linesRoundTripWithoutStalenessMarkers() {
        let text = """
            {"metric":{"__name__":"up","job":"a"},"values":[1,0.5,"+Inf"],"timestamps":[1000,2000,3000]}

            {"metric":{"__name__":"up","job":"b"},"values":[2],"timestamps":[1000]}
            """
        let parsed = parse(text, extra: [Label("job", "x"), Label("env", "ci")])
        #expect(parsed.errors.isEmpty)
        #expect(parsed.samples.map { "\($0.labels) \($0.value) \($0.timestampMs)" } == [
            #"up{env="ci", job="x"} 1.0 1000"#, #"up{env="ci", job="x"} 0.5 2000"#, #"up{env="ci", job="x"} inf 3000"#,
            #"up{env="ci", job="x"} 2.0 1000"#,
        ])
        var out = ""
        VictoriaJSONLines.append(
            SeriesSamples(labels: Labels([Label("__name__", "up"), Label("job", "a")]), timestampsMs: [1000, 2000, 3000],
                values: [1, Double(bitPattern: StaleNaN.bitPattern), 0.25]), to: &out)
        VictoriaJSONLines.append(SeriesSamples(labels: Labels([Label("__name__", "gone")]), timestampsMs: [5], values: [.nan]), to: &out)
        #expect(out == #"{"metric":{"__name__":"up","job":"a"},"values":[1,0.25],"timestamps":[1000,3000]}"# + "\n")
        #expect(parse(out).samples.count == 2)
    }

    @Test func badLinesAreNamed() {
        let parsed = parse(
            """
            {"metric":{"__name__":"ok"},"values":[1],"timestamps":[1]}
            {"values":[1],"timestamps":[1]}
            {"metric":{"__name__":"m"},"values":[1,2],"timestamps":[1]}
            {"metric":{"__name__":"m","n":1},"values":[1],"timestamps":[1]}
            {"metric":{"__name__":"m"},"values":["x"],"timestamps":[1]}
            {"metric":{"__name__":"m"},"values":[1],"timestamps":[1.5]}
            [
            """)
        #expect(parsed.samples.count == 1)
        #expect(parsed.errors.count == 6)
        #expect(parsed.errors[0] == "line 2: missing \"metric\" object")
        #expect(parsed.errors[1] == "line 3: 2 values but 1 timestamps")
        #expect(parsed.errors[2] == "line 4: label \"n\" must be a string")
        #expect(parsed.errors[3] == "line 5: values[0] is not a number")
        #expect(parsed.errors[4] == "line 6: timestamps[0] is not an integer")
        #expect(parsed.errors[5].hasPrefix("line 7: "))
    }
}
