import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineQuery

@Suite struct TraceQLTests {
    /// A checkout trace: the shop's server span (root), a client call to stock, and stock's failing server span.
    static let trace: [Span] = {
        let id = TraceID(high: 1, low: 2)
        let shop: [Attribute] = [Attribute("service.name", .string("shop")), Attribute("deployment.environment", .string("prod"))]
        let stock: [Attribute] = [Attribute("service.name", .string("stock"))]
        return [
            Span(
                traceID: id, spanID: SpanID(1), name: "GET /cart", kind: .server, startTimeUnixNano: 1_000_000_000, endTimeUnixNano: 1_300_000_000,
                attributes: [Attribute("http.method", .string("GET")), Attribute("http.status_code", .int(500))], statusCode: .error, resource: shop),
            Span(
                traceID: id, spanID: SpanID(2), parentSpanID: SpanID(1), name: "call stock", kind: .client, startTimeUnixNano: 1_010_000_000,
                endTimeUnixNano: 1_200_000_000, attributes: [Attribute("peer.service", .string("stock")), Attribute("retry", .bool(true))],
                resource: shop),
            Span(
                traceID: id, spanID: SpanID(3), parentSpanID: SpanID(2), name: "GET /stock", kind: .server, startTimeUnixNano: 1_020_000_000,
                endTimeUnixNano: 1_190_000_000, attributes: [Attribute("http.status_code", .int(503)), Attribute("load", .double(0.75))],
                statusCode: .error, statusMessage: "no stock", resource: stock),
        ]
    }()

    func names(_ query: String) throws -> [String] {
        try TraceQLQuery(query).matchingSpans(in: Self.trace).map(\.name)
    }

    @Test(arguments: [
        ("{}", ["GET /cart", "call stock", "GET /stock"]),
        (#"{ resource.service.name = "stock" }"#, ["GET /stock"]),
        (#"{ .service.name = "shop" && kind = server }"#, ["GET /cart"]),
        ("{ span.http.status_code >= 500 }", ["GET /cart", "GET /stock"]),
        ("{ .http.status_code = 503 || .retry = true }", ["call stock", "GET /stock"]),
        ("{ status = error && !(name = \"GET /cart\") }", ["GET /stock"]),
        ("{ duration > 250ms }", ["GET /cart"]),
        ("{ duration >= 180ms && duration < 0.2s }", ["call stock"]),
        (#"{ name =~ "GET .*" }"#, ["GET /cart", "GET /stock"]),
        (#"{ name =~ "GET" }"#, []),  // anchored
        (#"{ name !~ "GET.*" }"#, ["call stock"]),
        ("{ span.load > 0.5 }", ["GET /stock"]),
        ("{ span.load != nil }", ["GET /stock"]),
        ("{ span.load = nil && kind = server }", ["GET /cart"]),
        ("{ span.missing != \"x\" }", []),
        (#"{ rootServiceName = "shop" && traceDuration > 200ms && span:statusMessage = "no stock" }"#, ["GET /stock"]),
        (#"{ trace:rootName = "GET /cart" && span:kind = client }"#, ["call stock"]),
        (#"{ resource.service.name = "stock" } && { kind = client }"#, ["call stock", "GET /stock"]),
        (#"{ resource.service.name = "stock" } && { kind = producer }"#, []),
        (#"{ kind = producer } || { .retry }"#, ["call stock"]),
        ("{ status = error } | count() > 1", ["GET /cart", "GET /stock"]),
        ("{ status = error } | count() > 2", []),
        (#"{ span."http.method" = "GET" }"#, ["GET /cart"]),
        // Structural operators: the right-hand spans related to a left-hand one.
        (#"{ name = "GET /cart" } > { kind = client }"#, ["call stock"]),
        (#"{ name = "GET /cart" } > { kind = server }"#, []),
        (#"{ name = "GET /cart" } >> { kind = server }"#, ["GET /stock"]),
        ("{ kind = client } < { kind = server }", ["GET /cart"]),
        (#"{ resource.service.name = "stock" } << {}"#, ["GET /cart", "call stock"]),
        (#"{ name = "GET /cart" } !> {}"#, ["GET /cart", "GET /stock"]),
        ("{} ~ {}", []),
        // Union structural operators: the related spans of both sides.
        (#"{ name = "GET /cart" } &>> { kind = server }"#, ["GET /cart", "GET /stock"]),
        ("{ kind = client } &> { status = error }", ["call stock", "GET /stock"]),
        ("{ kind = server } &< { kind = client }", ["call stock", "GET /stock"]),
        ("{ kind = client } &<< { kind = client }", []),
        ("{} &~ {}", []),
        ("({ nestedSetParent < 0 && true } &>> { kind = server }) || ({ nestedSetParent < 0 && true }) | select(status, nestedSetLeft)", ["GET /cart", "GET /stock"]),
        (#"{ kind = server } >> { kind = server } && { .retry = true }"#, ["call stock", "GET /stock"]),
        // Pipeline stages over the whole spanset.
        ("{ kind = server } | avg(duration) > 200ms", ["GET /cart", "GET /stock"]),
        ("{ kind = server } | avg(duration) > 250ms", []),
        ("{ status = error } | max(span.http.status_code) = 503 | min(duration) < 180ms", ["GET /cart", "GET /stock"]),
        ("{} | sum(span.load) >= 0.75", ["GET /cart", "call stock", "GET /stock"]),
        ("{ kind = server } | select(span.load, resource.service.name)", ["GET /cart", "GET /stock"]),
        ("{ 500 <= span.http.status_code && span.http.status_code < 503 }", ["GET /cart"]),
    ])
    func selectsSpans(query: String, expected: [String]) throws {
        #expect(try names(query) == expected, "\(query)")
    }

    @Test(arguments: [
        ("{ name = }", "TraceQL: 1:10: expected a field or a value"),
        ("{ foo = 1 }", "TraceQL: 1:3: unknown field or value foo"),
        ("{ span.a = 1 ", "TraceQL: 1:14: expected } or an operator"),
        ("{ .a = 1 } | by(span.b)", "TraceQL: 1:14: by is not supported after |"),
        ("{ .a = 1 } | select(span.b 2)", "TraceQL: 1:28: expected , or ) in select()"),
        ("{ .a = 1 } ! { .b = 2 }", "TraceQL: 1:13: expected a structural operator after !"),
        ("{ .a = 1 } & { .b = 2 }", "TraceQL: 1:13: expected a structural operator after &"),
        ("{ .a = 1 } | avg(duration) > \"x\"", "TraceQL: 1:33: expected a number or a duration after avg() >"),
        (#"{ name = "x }"#, "TraceQL: 1:10: unterminated string"),
        ("{ duration > 5parsecs }", "TraceQL: 1:15: unknown duration unit parsecs"),
        (#"{ name =~ "(" }"#, #"invalid regular expression "(" in TraceQL query"#),
        ("name = 1", "TraceQL: 1:1: expected a spanset filter { … }"),
    ])
    func refusesWhatItCannotRead(query: String, message: String) {
        do {
            _ = try TraceQLQuery(query)
            Issue.record("parsed \(query)")
        } catch let error as SightlineError {
            #expect(error.code == .invalidArgument)
            #expect(error.message == message)
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func prefilterKeepsOnlyWhatEveryMatchSatisfies() throws {
        let tenant = Tenant.default
        let query = try TraceQLQuery(#"{ resource.service.name = "shop" && name = "GET /cart" && duration > 1s && kind = server && status = error && .http.status_code = 500 && span.x =~ "y" }"#)
        let pre = query.prefilter(tenant: tenant, range: .all, limit: 50)
        #expect(pre.service == "shop" && pre.operation == "GET /cart" && pre.kind == .server && pre.status == .error)
        #expect(pre.minDurationNano == 1_000_000_001 && pre.tags == [TagCondition("http.status_code", "500")] && pre.limit == 50)
        // Alternatives and combined spansets leave nothing to narrow by.
        let either = try TraceQLQuery(#"{ name = "a" || name = "b" }"#).prefilter(tenant: tenant, range: .all, limit: 5)
        #expect(either.operation == nil && either.tags.isEmpty)
        #expect(try TraceQLQuery(#"{ name = "a" } && { name = "b" }"#).prefilter(tenant: tenant, range: .all, limit: 5).operation == nil)
        // What the store filters on exactly needs no predicate; bounds combine; a conflicting value keeps it.
        let exact = try TraceQLQuery(#"{ resource.service.name = "shop" && duration > 2s && duration > 1s && kind = server }"#)
            .prefilter(tenant: tenant, range: .all, limit: 5)
        #expect(exact.predicate == nil && exact.minDurationNano == 2_000_000_001)
        #expect(try TraceQLQuery(#"{ name = "a" && name = "b" }"#).prefilter(tenant: tenant, range: .all, limit: 5).predicate != nil)
        // A filter the store cannot index still narrows the candidates, span by span, unless it reads the trace.
        let numeric = try TraceQLQuery("{ span.http.status_code >= 500 }").prefilter(tenant: tenant, range: .all, limit: 5)
        #expect(numeric.predicate != nil && !numeric.matches(Self.trace[1]) && numeric.matches(Self.trace[2]))
        #expect(try TraceQLQuery(#"{ rootServiceName = "shop" }"#).prefilter(tenant: tenant, range: .all, limit: 5).predicate == nil)
        // The Drilldown's root spans: exact, by the store's root flag.
        let roots = try TraceQLQuery("{ nestedSetParent < 0 && true && kind = server }").prefilter(tenant: tenant, range: .all, limit: 5)
        #expect(roots.rootSpans && roots.kind == .server && roots.predicate == nil)
        #expect(roots.matches(Self.trace[0]) && !roots.matches(Self.trace[2]))
        #expect(try TraceQLQuery("{ nestedSetParent <= 0 }").prefilter(tenant: tenant, range: .all, limit: 5).rootSpans == false)
        let none = try TraceQLQuery("{ nestedSetParent < -1 }").prefilter(tenant: tenant, range: .all, limit: 5)
        #expect(!none.rootSpans && !none.matches(Self.trace[0]) && !none.matches(Self.trace[1]))
        #expect(try TraceQLQuery("{ -1 = nestedSetParent }").prefilter(tenant: tenant, range: .all, limit: 5).rootSpans)
        let structural = try TraceQLQuery(#"{ name = "GET /cart" } >> { kind = server }"#).prefilter(tenant: tenant, range: .all, limit: 5)
        #expect(structural.matches(Self.trace[2]) && !structural.matches(Self.trace[1]))
        let alternatives = try TraceQLQuery(#"{ kind = client } || { .load > 0.5 }"#).prefilter(tenant: tenant, range: .all, limit: 5)
        #expect(!alternatives.matches(Self.trace[0]) && alternatives.matches(Self.trace[1]) && alternatives.matches(Self.trace[2]))
        // Every span the query selects passes the prefilter.
        for text in [
            #"{ .service.name = "shop" && kind = server }"#, "{ span.http.status_code = 500 }", "{ duration >= 180ms }",
            #"{ status = error } >> { name =~ "GET.*" }"#, "{ !(kind = server) || .load != nil } | count() > 1",
        ] {
            let parsed = try TraceQLQuery(text)
            let narrowed = parsed.prefilter(tenant: tenant, range: .all, limit: 5)
            for span in parsed.matchingSpans(in: Self.trace) { #expect(narrowed.matches(span), "\(text): \(span.name)") }
        }
    }

    /// Random fragments of TraceQL never trap the parser, the evaluator or the field reader: they parse and run, or
    /// fail with an error (the text comes from HTTP requests).
    @Test func randomQueriesNeverTrap() {
        var rng = SplitMix64(seed: 19)
        let pieces = [
            "{", "}", "(", ")", " ", "&&", "||", "!", "=", "!=", "<", ">", ">=", "<=", "=~", "!~", ">>", "<<", "~", "|", ",", ".", "span.",
            "resource.", "span:", "trace:", "name", "status", "kind", "duration", "rootName", "traceDuration", "error", "server", "nil",
            "true", "\"", "`", "\"GET.*\"", "\"(\"", "1", "-2", "1.5", "100ms", "5xs", "count()", "avg(duration)", "select(", "by(", "http.status_code",
            "\\", "µs", "é", "&>>", "&~", "nestedSetParent", "nestedSetLeft", "event.", "event:name", "| rate()", "| count_over_time()",
            "| quantile_over_time(duration, 0.9", "| histogram_over_time(", "| compare({status=error}, 2", "| max_over_time(", " by (",
            "| topk(2)", "| bottomk(", "with(sample=true)", "0.5", "0",
        ]
        let source = SpanList(spans: Self.trace)
        let window = try! TraceQLMetricsWindow(rangeFrom: 0, to: 3_000_000_000, step: 1_000_000_000)
        for _ in 0..<5000 {
            let text = (0..<Int(rng.next() % 20)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
            if let query = try? TraceQLQuery(text) {
                _ = query.matchingSpans(in: Self.trace)
                if query.isMetricsQuery { _ = try? query.metrics(source: source, tenant: .default, window: window) }
                _ = query.shownAttributes(of: Self.trace[1], in: TraceSummary(Self.trace))
                _ = query.prefilter(tenant: .default, range: .all, limit: 3).matches(Self.trace[0])
            }
            _ = try? TraceQLQuery.field(named: text).tagValue(of: Self.trace[2])
        }
    }

    @Test func searchesShowTheFieldsTheQueryReadsWithoutTheirScope() throws {
        let query = try TraceQLQuery(
            #"{ span.http.status_code >= 500 && resource.service.name = "stock" && .peer.service != "y" && status = error } | select(span.load, nestedSetLeft, nestedSetParent, name, duration, event.exception.message)"#)
        #expect(query.shownAttributes(of: Self.trace[2], in: TraceSummary(Self.trace)) == [
            Attribute("http.status_code", .int(503)), Attribute("service.name", .string("stock")), Attribute("status", .string("error")),
            Attribute("load", .double(0.75)), Attribute("nestedSetLeft", .int(3)), Attribute("nestedSetParent", .int(2)),
        ])
        var failing = Self.trace[2]
        failing.events = [
            Span.Event(timeUnixNano: 1, name: "log", attributes: [Attribute("message", .string("retrying"))], droppedAttributesCount: 0),
            Span.Event(timeUnixNano: 2, name: "exception", attributes: [Attribute("exception.message", .string("no stock"))], droppedAttributesCount: 0),
        ]
        let events = try TraceQLQuery(#"{ event.exception.message =~ "no.*" } | select(event:name)"#)
        #expect(events.matchingSpans(in: [failing]).count == 1)
        // Any event may satisfy a comparison; a missing key compares false.
        #expect(try TraceQLQuery(#"{ event:name = "exception" && event.message = "retrying" }"#).matchingSpans(in: [failing]).count == 1)
        #expect(try TraceQLQuery(#"{ event:name = "other" || event.message = "x" }"#).matchingSpans(in: [failing]).isEmpty)
        #expect(try TraceQLQuery(#"{ event.nothing != "x" }"#).matchingSpans(in: [failing]).isEmpty)
        #expect(events.shownAttributes(of: failing, in: TraceSummary([failing])) == [
            Attribute("exception.message", .string("no stock")), Attribute("event:name", .string("log")),
        ])
    }
}
