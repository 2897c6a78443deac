import Logging
import NIOCore
import NIOHTTP1
import SightlineCore
import Testing

@testable import SightlineScrape

/// Scrapes through real sockets against an in-process NIO server.
struct ScrapeLoopTests {
    private static let logger = Logger(label: "scrape-test")

    private func loop(
        _ server: TestHTTPServer, _ recorder: BatchRecorder, honorLabels: Bool = false, timeout: Duration? = nil,
        bodySizeLimit: Int = ScrapeConfig.defaultBodySizeLimit, tenant: Tenant = .default, params: [String: [String]] = [:]
    ) throws -> ScrapeLoop {
        let config = ScrapeConfig(
            jobName: "app", tenant: tenant, scrapeInterval: .seconds(5), scrapeTimeout: timeout, honorLabels: honorLabels,
            params: params, bodySizeLimit: bodySizeLimit)
        let target = try #require(try ScrapeTarget(config: config, address: server.address, staticLabels: ["env": "test"]))
        return ScrapeLoop(target: target, fetcher: HTTPFetcher(), sink: recorder.sink, logger: Self.logger, clock: { 1_000 })
    }

    private func labels(_ server: TestHTTPServer, _ extra: String = "") -> String {
        #"env="test", instance="\#(server.address)", job="app""# + extra
    }

    @Test func scrapesMarksStaleSeriesAndReportsDownTargets() async throws {
        let server = try await TestHTTPServer.start()
        let recorder = BatchRecorder()
        var loop = try loop(server, recorder, tenant: try Tenant("team-a"))
        server.serve("# TYPE a gauge\na{x=\"1\"} 1\nb 2\n")
        await loop.scrape()
        let first = try #require(recorder.last)
        #expect(recorder.all.first?.0 == (try Tenant("team-a")))
        #expect(first.value("a{\(labels(server)), x=\"1\"}") == 1)
        #expect(first.value("b{\(labels(server))}") == 2)
        #expect(first.value("up{\(labels(server))}") == 1)
        #expect(first.value("scrape_samples_scraped{\(labels(server))}") == 2)
        #expect(first.metadata == [MetricMetadata(metricFamily: "a", kind: .gauge)])
        #expect(first.samples.allSatisfy { $0.timestampMs == 1_000 })

        server.serve("a{x=\"1\"} 3\n")
        await loop.scrape()
        let second = try #require(recorder.last)
        #expect(second.value("a{\(labels(server)), x=\"1\"}") == 3)
        #expect(second.value("b{\(labels(server))}").map(StaleNaN.isStale) == true)
        #expect(second.value("up{\(labels(server))}") == 1)

        try await server.stop()
        await loop.scrape()
        let third = try #require(recorder.last)
        #expect(third.value("up{\(labels(server))}") == 0)
        #expect(third.value("a{\(labels(server)), x=\"1\"}").map(StaleNaN.isStale) == true)
        #expect(third.value("b{\(labels(server))}") == nil)
        #expect(third.value("scrape_samples_scraped{\(labels(server))}") == 0)
    }

    @Test func honorLabelsBothWays() async throws {
        let server = try await TestHTTPServer.start()
        defer { Task { try? await server.stop() } }
        server.serve(#"m{job="exported",instance="inner"} 1"# + "\n")
        let recorder = BatchRecorder()
        var renaming = try loop(server, recorder)
        await renaming.scrape()
        let renamed = try #require(recorder.last?.samples.first { $0.labels.metricName == "m" })
        #expect(renamed.labels["job"] == "app")
        #expect(renamed.labels["exported_job"] == "exported")
        #expect(renamed.labels["instance"] == server.address)
        #expect(renamed.labels["exported_instance"] == "inner")

        var honoring = try loop(server, recorder, honorLabels: true)
        await honoring.scrape()
        let honored = try #require(recorder.last?.samples.first { $0.labels.metricName == "m" })
        #expect(honored.labels.description == #"m{env="test", instance="inner", job="exported"}"#)
    }

    @Test func timeoutReportsDown() async throws {
        let server = try await TestHTTPServer.start()
        defer { Task { try? await server.stop() } }
        var reply = TestHTTPServer.Reply(body: Array("a 1\n".utf8))
        // The reply would come long after the timeout, so a finished scrape can only have ended by timing out.
        reply.delay = .seconds(60)
        server.serve(reply)
        let recorder = BatchRecorder()
        var loop = try loop(server, recorder, timeout: .milliseconds(200))
        await loop.scrape()
        let batch = try #require(recorder.last)
        #expect(batch.value("up{\(labels(server))}") == 0)
        let duration = try #require(batch.value("scrape_duration_seconds{\(labels(server))}"))
        #expect(duration >= 0.2 && duration < 60)
    }

    @Test func sendsPrometheusHeadersAndParams() async throws {
        let server = try await TestHTTPServer.start()
        defer { Task { try? await server.stop() } }
        server.serve("a 1\n")
        let recorder = BatchRecorder()
        var loop = try loop(server, recorder, timeout: .milliseconds(2500), params: ["module": ["http 2xx"]])
        await loop.scrape()
        let request = try #require(server.requests.first)
        #expect(request.uri == "/metrics?module=http%202xx")
        #expect(request.header("Accept") == HTTPFetcher.scrapeAccept)
        #expect(request.header("Accept-Encoding") == "gzip")
        #expect(request.header("X-Prometheus-Scrape-Timeout-Seconds") == "2.5")
        #expect(request.header("User-Agent")?.hasPrefix("Sightline/") == true)
        #expect(request.header("Host") == server.address)
    }

    @Test func gzipChunkedAndOpenMetricsBodies() async throws {
        let server = try await TestHTTPServer.start()
        defer { Task { try? await server.stop() } }
        let recorder = BatchRecorder()
        var loop = try loop(server, recorder)
        // gzip.compress(b'# TYPE gz gauge\ngz{k="v"} 42\n', mtime=0)
        let gzipped: [UInt8] = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x53, 0x56, 0x08, 0x89, 0x0c, 0x70, 0x55, 0x48, 0xaf, 0x52,
            0x48, 0x4f, 0x2c, 0x4d, 0x4f, 0xe5, 0x4a, 0xaf, 0xaa, 0xce, 0xb6, 0x55, 0x2a, 0x53, 0xaa, 0x55, 0x30, 0x31, 0xe2, 0x02,
            0x00, 0xed, 0x2f, 0xbe, 0x4d, 0x1d, 0x00, 0x00, 0x00,
        ]
        server.serve(TestHTTPServer.Reply(body: gzipped, contentEncoding: "gzip"))
        await loop.scrape()
        #expect(recorder.last?.value("gz{\(labels(server)), k=\"v\"}") == 42)

        var chunked = TestHTTPServer.Reply(body: Array((0..<500).map { "series_\($0) \($0)\n" }.joined().utf8))
        chunked.chunks = 7
        server.serve(chunked)
        await loop.scrape()
        #expect(recorder.last?.value("scrape_samples_scraped{\(labels(server))}") == 500)
        #expect(recorder.last?.value("series_499{\(labels(server))}") == 499)

        server.serve("om_total 3 1.5\n# EOF\n", contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8")
        await loop.scrape()
        let om = try #require(recorder.last?.samples.first { $0.labels.metricName == "om_total" })
        #expect(om.timestampMs == 1500)
    }

    @Test func badResponsesReportDown() async throws {
        let server = try await TestHTTPServer.start()
        defer { Task { try? await server.stop() } }
        let recorder = BatchRecorder()
        var loop = try loop(server, recorder, bodySizeLimit: 100)
        server.serve(TestHTTPServer.Reply(status: .internalServerError, body: Array("oops".utf8)))
        await loop.scrape()
        #expect(recorder.last?.value("up{\(labels(server))}") == 0)
        server.serve("a{ 1\n")
        await loop.scrape()
        #expect(recorder.last?.value("up{\(labels(server))}") == 0)
        server.serve(String(repeating: "a 1\n", count: 100))
        await loop.scrape()
        #expect(recorder.last?.value("up{\(labels(server))}") == 0)
        var chunked = TestHTTPServer.Reply(body: Array(String(repeating: "a 1\n", count: 100).utf8))
        chunked.chunks = 4
        server.serve(chunked)
        await loop.scrape()
        #expect(recorder.last?.value("up{\(labels(server))}") == 0)
        server.serve("a 1\n")
        await loop.scrape()
        #expect(recorder.last?.value("up{\(labels(server))}") == 1)
    }

    @Test func sinkFailureKeepsThePreviousSeries() async throws {
        let server = try await TestHTTPServer.start()
        defer { Task { try? await server.stop() } }
        let recorder = BatchRecorder()
        var loop = try loop(server, recorder)
        server.serve("a 1\n")
        await loop.scrape()
        recorder.setFailing(true)
        server.serve("b 1\n")
        await loop.scrape()
        recorder.setFailing(false)
        await loop.scrape()
        // `a` was stored, `b` was not: the third scrape still marks `a` stale.
        #expect(recorder.last?.value("a{\(labels(server))}").map(StaleNaN.isStale) == true)
    }

    @Test func writesEndOfRunMarkers() async throws {
        let server = try await TestHTTPServer.start()
        defer { Task { try? await server.stop() } }
        let recorder = BatchRecorder()
        var loop = try loop(server, recorder)
        server.serve("a 1\n")
        await loop.scrape()
        await loop.writeEndOfRunStaleness()
        let end = try #require(recorder.last)
        #expect(end.samples.count == 6)
        #expect(end.samples.allSatisfy { StaleNaN.isStale($0.value) })
    }
}
