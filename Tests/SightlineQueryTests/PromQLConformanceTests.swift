import Foundation
import Testing
@testable import SightlineQuery

/// Runs every Prometheus `promqltest` script of the shared conformance data through ``PromQLEngine``.
///
/// Each `eval` is passed, failed (with a diff) or skipped (native histograms, start timestamps). The float cases of
/// the core scripts must all pass, except the few listed in ``knownFailures``.
@Suite struct PromQLConformanceTests {
    /// The scripts whose float cases must pass.
    static let requiredFiles: Set<String> = [
        "aggregators.test", "at_modifier.test", "collision.test", "functions.test", "histograms.test", "literals.test", "limit.test",
        "name_label_dropping.test", "operators.test", "range_queries.test", "selectors.test", "staleness.test", "subquery.test",
        "trig_functions.test",
    ]

    /// Cases of the required scripts that still fail, as `file:line`, with the reason. Keep this list short.
    static let knownFailures: [String: String] = [:]

    @Test func conformanceScripts() throws {
        var table: [String] = []
        table.append("file                         passed failed skipped")
        var unexpected: [String] = []
        var fixed: [String] = []
        var totals = (passed: 0, failed: 0, skipped: 0)
        var annotationMismatches: [String] = []
        for (name, text) in try ConformanceFiles.promQLScripts() {
            let script: PromQLTestScript
            do {
                script = try PromQLTestScript(text)
            } catch {
                Issue.record("\(name): cannot parse script: \(error)")
                continue
            }
            var counts = (passed: 0, failed: 0, skipped: 0)
            for result in PromQLTestRunner.run(script) {
                let key = "\(name):\(result.line)"
                if let note = result.annotationNote, Self.requiredFiles.contains(name) { annotationMismatches.append("\(key): \(note)") }
                switch result.outcome {
                case .passed:
                    counts.passed += 1
                    if Self.knownFailures[key] != nil { fixed.append(key) }
                case .failed(let diff):
                    counts.failed += 1
                    print("FAIL \(key): \(result.expr)\n     \(diff)")
                    if Self.requiredFiles.contains(name) && Self.knownFailures[key] == nil {
                        unexpected.append("\(key): \(result.expr): \(diff)")
                    }
                case .skipped:
                    counts.skipped += 1
                }
            }
            totals.passed += counts.passed
            totals.failed += counts.failed
            totals.skipped += counts.skipped
            table.append(
                name.padding(toLength: 28, withPad: " ", startingAt: 0) + " " + pad(counts.passed) + " " + pad(counts.failed) + " "
                    + pad(counts.skipped))
        }
        table.append("TOTAL".padding(toLength: 28, withPad: " ", startingAt: 0) + " " + pad(totals.passed) + " " + pad(totals.failed) + " " + pad(totals.skipped))
        print(table.joined(separator: "\n"))
        // Annotations (warn/info expectations) are reported, not asserted.
        print("annotation expectations not met in the required scripts: \(annotationMismatches.count)")
        for mismatch in annotationMismatches { print("  \(mismatch)") }
        if !fixed.isEmpty { print("known failures that now pass (remove them from the list): \(fixed.sorted())") }
        for failure in unexpected {
            Issue.record("\(failure)")
        }
    }

    private func pad(_ value: Int) -> String {
        let text = String(value)
        return String(repeating: " ", count: max(0, 6 - text.count)) + text
    }
}
