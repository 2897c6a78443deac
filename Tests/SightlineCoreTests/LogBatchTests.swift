import SightlineCore
import Testing

struct LogBatchTests {
    /// Records with every field and value kind, some sharing a resource, a scope and stream labels.
    private func records() -> [LogRecord] {
        let resource = [Attribute("service.name", .string("payments")), Attribute("host.name", .string("h1"))]
        let scope = InstrumentationScope(name: "io.payments", version: "2.1", attributes: [Attribute("lib", .string("x"))])
        let stream = Labels(["job": "varlog"])
        return [
            LogRecord(
                timeUnixNano: 10, observedTimeUnixNano: 15, severityNumber: 17, severityText: "ERROR",
                body: .string("payment failed für Jürgen 🚀"),
                attributes: [
                    Attribute("trace_id", .string("4227fc9192ae5c88811f67a4957b4fef")), Attribute("count", .int(-42)),
                    Attribute("ratio", .double(-0.0)), Attribute("ok", .bool(true)), Attribute("raw", .bytes([0, 1, 255])),
                    Attribute("list", .array([.string("a"), .int(1), .empty])),
                    Attribute("map", .keyValueList([Attribute("inner", .keyValueList([Attribute("x", .double(.infinity))]))])),
                    Attribute("none", .empty),
                ],
                droppedAttributesCount: 3, flags: 1, traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), eventName: "payment.failed",
                resource: resource, scope: scope),
            LogRecord(timeUnixNano: 11, body: .empty, resource: resource, scope: scope),
            LogRecord(observedTimeUnixNano: 12, body: .keyValueList([Attribute("msg", .string("structured"))]), stream: stream),
            LogRecord(timeUnixNano: 13, body: .bytes([]), attributes: [Attribute("trace_id", .string(""))], stream: stream),
            LogRecord(timeUnixNano: 14, severityText: "ERROR", body: .double(1.5), eventName: "e"),
        ]
    }

    @Test func recordsComeBackAsTheyWentIn() {
        let records = records()
        let batch = LogBatch(records)
        #expect(batch.count == records.count)
        #expect(Array(batch) == records)
        #expect(batch == LogBatch(records))
        #expect(batch != LogBatch(records.dropLast()))
        // Values records share are kept once.
        #expect(batch.strings.filter { $0 == "ERROR" }.count == 1)
        #expect(batch.resources.count == 2 && batch.scopes.count == 2 && batch.streams.count == 2)
        #expect(batch.rows[2].effectiveTimeUnixNano == 12)
        #expect(batch.string(batch.rows[0].body) == "payment failed für Jürgen 🚀")
    }

    @Test func rowsTakeTheAttributesAppendedSinceThePreviousRow() {
        var batch = LogBatch()
        let key = batch.number(string: "k")
        #expect(batch.number(string: "k") == key && batch.number(string: "") == 0)
        batch.appendAttribute(key: key, value: batch.store(.string("dropped")))
        batch.discardPendingAttributes()
        batch.appendAttribute(key: key, value: batch.store(.int(1)))
        batch.appendRow(LogBatch.Row(timeUnixNano: 1, body: batch.store(.string("a"))))
        let line = batch.appendString { $0.append(contentsOf: Array("b".utf8)) }
        batch.appendRow(LogBatch.Row(timeUnixNano: 2, body: line, stream: batch.number(stream: Labels(["app": "x"]))))
        #expect(batch.pendingAttributeEntries.isEmpty)
        #expect(Array(batch) == [
            LogRecord(timeUnixNano: 1, body: .string("a"), attributes: [Attribute("k", .int(1))]),
            LogRecord(timeUnixNano: 2, body: .string("b"), stream: Labels(["app": "x"])),
        ])
        // Changing a row's fields keeps its attributes.
        batch.modifyRow(0) { row in
            row.severityNumber = 9
            row.attributeCount = 0
        }
        #expect(batch[0].severityNumber == 9 && batch[0].attributes == [Attribute("k", .int(1))])
        batch.setObservedTime(99)
        #expect(batch.allSatisfy { $0.observedTimeUnixNano == 99 })
    }

    @Test func rowsCopiedFromAnotherBatchKeepTheirRecords() {
        let records = records()
        let source = LogBatch(records)
        // Into a batch whose tables already hold other entries, so every number is mapped.
        var copy = LogBatch([records[4]])
        copy.append(contentsOf: source, rows: 1..<4)
        copy.append(contentsOf: source, rows: 0..<5)
        #expect(Array(copy) == [records[4]] + records[1..<4] + records)
    }
}
