import SightlineCore
import SightlineTestSupport

/// Log records for the store's tests: realistic lines, every field filled in some records and empty in others.
enum LogFixtures {
    static let base: UInt64 = 1_700_000_000_000_000_000

    /// A record of service `service` at `base + offsetNano`, with `line` as its body.
    static func record(_ line: String, at offsetNano: UInt64, service: String = "checkout", host: String = "host-1", level: Int32 = 9) -> LogRecord {
        LogRecord(
            timeUnixNano: base + offsetNano, observedTimeUnixNano: base + offsetNano + 1_000, severityNumber: level, severityText: level >= 17 ? "ERROR" : "INFO",
            body: .string(line), attributes: [Attribute("logger", .string("\(service).http")), Attribute("thread", .string("worker-3"))],
            resource: [Attribute("service.name", .string(service)), Attribute("host.name", .string(host))],
            scope: InstrumentationScope(name: "app", version: "1.0")
        )
    }

    /// Records exercising every field and its edge values.
    static func varied() -> [LogRecord] {
        var records: [LogRecord] = []
        records.append(
            LogRecord(
                timeUnixNano: base, observedTimeUnixNano: base + 5, severityNumber: 17, severityText: "ERROR",
                body: .string("payment failed für Jürgen 🚀 — 支付失败"),
                attributes: [
                    Attribute("trace_id", .string("4227fc9192ae5c88811f67a4957b4fef")), Attribute("count", .int(-42)),
                    Attribute("ratio", .double(0.25)), Attribute("ok", .bool(false)), Attribute("raw", .bytes([0, 1, 255])),
                    Attribute("list", .array([.string("a"), .int(1), .empty])),
                    Attribute("map", .keyValueList([Attribute("inner", .string("v")), Attribute("deep", .keyValueList([Attribute("x", .double(.infinity))]))])),
                ],
                droppedAttributesCount: 3, flags: 1, traceID: TraceID(high: 0x0102_0304_0506_0708, low: 0x090A_0B0C_0D0E_0F10),
                spanID: SpanID(0xDEAD_BEEF), eventName: "payment.failed",
                resource: [Attribute("service.name", .string("payments")), Attribute("k8s.pod.name", .string("payments-1"))],
                scope: InstrumentationScope(name: "io.payments", version: "2.1", attributes: [Attribute("lib", .string("x"))])
            ))
        records.append(LogRecord(timeUnixNano: base + 1, body: .empty))
        records.append(LogRecord(timeUnixNano: 0, observedTimeUnixNano: base + 2, body: .string("")))
        records.append(LogRecord(timeUnixNano: base + 3, observedTimeUnixNano: base, body: .int(12345)))
        records.append(LogRecord(timeUnixNano: base + 4, body: .keyValueList([Attribute("msg", .string("structured")), Attribute("n", .int(1))])))
        records.append(LogRecord(timeUnixNano: base + 5, body: .bytes([1, 2, 3]), attributes: [Attribute("trace_id", .string("ABC"))]))
        records.append(LogRecord(timeUnixNano: base + 6, body: .double(-0.5), attributes: [Attribute("count", .string("not a number"))]))
        records.append(
            LogRecord(
                timeUnixNano: base + 6, body: .string("explicit stream"), attributes: [Attribute("count", .int(7))],
                stream: Labels(["job": "varlog", "filename": "/var/log/a.log"])
            ))
        records.append(LogRecord(timeUnixNano: base + 7, body: .array([.bool(true), .string("x")]), eventName: "e"))
        return records
    }

    /// `count` generated lines in the shape of the shared dataset: access lines and key=value app lines with ids.
    static func generated(_ count: Int, seed: UInt64, start: UInt64 = base, stepNano: UInt64 = 1_000_000, service: String = "gateway") -> [LogRecord] {
        var random = SplitMix64(seed: seed)
        let paths = ["/api/v1/orders", "/api/v1/cart", "/api/v1/users/", "/healthz", "/api/v1/search"]
        let messages = ["cache hit key=user:", "order placed by user ", "request completed status=200 duration_ms=", "session refreshed for user "]
        var records: [LogRecord] = []
        records.reserveCapacity(count)
        for index in 0..<count {
            let trace = String(random.next(), radix: 16) + String(random.next() | 1 << 63, radix: 16)
            let n = random.next() % 100_000
            let line: String
            if index % 2 == 0 {
                line = "10.0.\(n % 256).\(n % 7) - - \"GET \(paths[Int(n % 5)])\(n) HTTP/1.1\" 200 \(n % 4000) rt=0.0\(n % 90) trace_id=\(trace)"
            } else {
                line = "\(messages[Int(n % 4)])\(n)"
            }
            var record = record(line, at: start - base + UInt64(index) * stepNano, service: service, host: "host-\(n % 3)", level: index % 17 == 0 ? 17 : 9)
            record.attributes.append(Attribute("trace_id", .string(trace)))
            records.append(record)
        }
        return records
    }
}
