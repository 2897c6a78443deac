import SightlineCore
import SightlineQuery
import SightlineTestSupport
import Testing

@testable import SightlineAlerting

/// Random input to the parsers: each returns or throws its own error, never traps.
@Suite struct NotifyFuzzTests {
    func randomText(_ rng: inout SplitMix64, pieces: [String], count: Int) -> String {
        (0..<Int(rng.next() % UInt64(count))).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
    }

    @Test func templatesNeverTrap() {
        var rng = SplitMix64(seed: 7)
        let pieces = ["{{", "}}", "{{-", "-}}", " ", ".", "Status", "Alerts", "StartsAt", "Format", "tz", "date", "since", "\"Europe/Paris\"", "$", "$x", ":=", "|", "(", ")", "\"", "`", "range", "if", "else",
            "end", "with", "template", "define", "len", "join", "eq", "printf", "1", "-", "x", "/*", "*/", "\\", ",", ".Labels.a"]
        let data: NotifyTemplateValue = .object(["Status": .string("firing"), "Alerts": .list([.object(["Labels": .kv([("a", "b")]), "StartsAt": .time(.zero, .utc)])], fields: [:])])
        for _ in 0..<3000 {
            let text = randomText(&rng, pieces: pieces, count: 24)
            _ = try? NotifyTemplate.render(text, data, now: GoTime.Instant(milliseconds: 0))
        }
    }

    @Test func matchersTimesAndDurationsNeverTrap() {
        var rng = SplitMix64(seed: 11)
        let matcherPieces = ["a", "=", "!", "~", "\"", "\\", ",", "{", "}", " ", "(", "*", "Z", "_", "1"]
        let timePieces = ["2026", "-", "11", "T", ":", "Z", "+", ".", "0", "9", " ", "t", "z", "99"]
        let durationPieces = ["1", "m", "s", "h", "d", "ms", "x", "0", "99999999999999999999"]
        for _ in 0..<3000 {
            _ = try? MatcherText.parseList(randomText(&rng, pieces: matcherPieces, count: 16))
            _ = NotifyRFC3339.parse(randomText(&rng, pieces: timePieces, count: 14))
            _ = NotifyDuration.parseMs(randomText(&rng, pieces: durationPieces, count: 6))
            _ = TimeIntervalSpec.range(randomText(&rng, pieces: ["-", ":", "1", "3", "31", "monday", "x"], count: 6), names: TimeIntervalSpec.weekdayNames, base: 0, allowNegative: true, bounds: 0...31)
        }
    }

    @Test func configsNeverTrap() {
        var rng = SplitMix64(seed: 13)
        let lines = sampleNotifyConfig.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for _ in 0..<300 {
            // Drop and repeat random lines of a valid config.
            var mutated: [String] = []
            for line in lines {
                switch rng.next() % 10 {
                case 0: continue
                case 1: mutated += [line, line]
                case 2: mutated.append(String(line.prefix(Int(rng.next() % UInt64(line.count + 1)))))
                default: mutated.append(line)
                }
            }
            expectDecodesOrFails(with: .configuration) { _ = try NotifyConfigFile.parse(mutated.joined(separator: "\n"), path: "fuzz.yml") }
        }
    }
}
