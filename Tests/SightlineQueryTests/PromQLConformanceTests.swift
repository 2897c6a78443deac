import Testing

/// Runs every Prometheus `promqltest` script of the shared conformance data through ``PromQLEngine`` over memory
/// (``PromQLConformance``; the ClickHouse backend runs the same scripts in SightlineClickHouseTests).
@Suite struct PromQLConformanceTests {
    @Test func conformanceScripts() throws {
        let report = try PromQLConformance.run { PromQLTestStorage() }
        report.print()
        for problem in report.unparsable + report.unexpected {
            Issue.record("\(problem)")
        }
    }
}
