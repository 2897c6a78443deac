import Foundation

/// Every shared `promqltest` script run over one kind of ``PromQLTestData``, each script on fresh data: the counts per
/// file and the cases that must be looked at.
///
/// Each `eval` is passed, failed (with a diff) or skipped (native histograms, start timestamps). The float cases of
/// every script must pass, except the few listed in ``knownFailures``.
struct PromQLConformance {
    /// Cases that still fail, as `file:line`, with the reason. Keep this list short.
    static let knownFailures: [String: String] = [:]

    /// Passed, failed and skipped cases per script, and the total, as a printable table.
    var table: [String] = ["file                         passed failed skipped"]
    /// Failures that are not known: each one fails the test.
    var unexpected: [String] = []
    /// Known failures that pass now (the list should lose them).
    var fixed: [String] = []
    /// Warn/info expectations that were not met; reported, not asserted.
    var annotationMismatches: [String] = []
    /// Scripts that could not be parsed.
    var unparsable: [String] = []

    /// Runs every script, each on data from `makeData`.
    /// - Throws: when the scripts cannot be found, or what the data throws.
    static func run(makeData: () throws -> any PromQLTestData) throws -> PromQLConformance {
        var report = PromQLConformance()
        var totals = (passed: 0, failed: 0, skipped: 0)
        for (name, text) in try ConformanceFiles.promQLScripts() {
            let script: PromQLTestScript
            do {
                script = try PromQLTestScript(text)
            } catch {
                report.unparsable.append("\(name): cannot parse script: \(error)")
                continue
            }
            var counts = (passed: 0, failed: 0, skipped: 0)
            for result in try PromQLTestRunner.run(script, data: makeData()) {
                let key = "\(name):\(result.line)"
                if let note = result.annotationNote { report.annotationMismatches.append("\(key): \(note)") }
                switch result.outcome {
                case .passed:
                    counts.passed += 1
                    if knownFailures[key] != nil { report.fixed.append(key) }
                case .failed(let diff):
                    counts.failed += 1
                    Swift.print("FAIL \(key): \(result.expr)\n     \(diff)")
                    if knownFailures[key] == nil {
                        report.unexpected.append("\(key): \(result.expr): \(diff)")
                    }
                case .skipped:
                    counts.skipped += 1
                }
            }
            totals.passed += counts.passed
            totals.failed += counts.failed
            totals.skipped += counts.skipped
            report.table.append(row(name, counts))
        }
        report.table.append(row("TOTAL", totals))
        return report
    }

    /// Prints the table and the notes.
    func print() {
        Swift.print(table.joined(separator: "\n"))
        Swift.print("annotation expectations not met: \(annotationMismatches.count)")
        for mismatch in annotationMismatches { Swift.print("  \(mismatch)") }
        if !fixed.isEmpty { Swift.print("known failures that now pass (remove them from the list): \(fixed.sorted())") }
    }

    private static func row(_ name: String, _ counts: (passed: Int, failed: Int, skipped: Int)) -> String {
        func pad(_ value: Int) -> String {
            let text = String(value)
            return String(repeating: " ", count: max(0, 6 - text.count)) + text
        }
        return name.padding(toLength: 28, withPad: " ", startingAt: 0) + " " + pad(counts.passed) + " " + pad(counts.failed) + " " + pad(counts.skipped)
    }
}
