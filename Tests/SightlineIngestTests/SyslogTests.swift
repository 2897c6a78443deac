import SightlineTestSupport
import Testing

@testable import SightlineCore
@testable import SightlineIngest

struct SyslogTests {
    /// 2026-11-26T10:00:00Z.
    private static let received: UInt64 = 1_764_151_200 * 1_000_000_000

    private static func parse(_ text: String, peer: String = "10.0.0.9") throws -> LogRecord {
        try SyslogMessage.parse(Array(text.utf8), receivedAtNano: received, peer: peer)
    }

    private static func attribute(_ record: LogRecord, _ key: String) -> String? {
        record.attributes.first { $0.key == key }?.value.text
    }

    @Test func rfc5424WithStructuredDataAndBOM() throws {
        let record = try Self.parse(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 42 ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Appli\\\"cation\" eventID=\"1011\"][x@1 a=\"]\\]\"] \u{FEFF}An application event log entry\n")
        #expect(record.timeUnixNano == 1_065_910_455_003_000_000)
        #expect(record.observedTimeUnixNano == Self.received)
        #expect(record.severityText == "notice")
        #expect(record.severityNumber == 10)
        #expect(record.line == "An application event log entry")
        #expect(record.stream == Labels([Label("app", "evntslog"), Label("host", "mymachine.example.com"), Label("service_name", "evntslog"), Label("source", "syslog")]))
        #expect(Self.attribute(record, "syslog.facility") == "local4")
        #expect(Self.attribute(record, "syslog.procid") == "42")
        #expect(Self.attribute(record, "syslog.msgid") == "ID47")
        #expect(Self.attribute(record, "syslog.version") == "1")
        #expect(Self.attribute(record, "syslog.sd.exampleSDID@32473.eventSource") == "Appli\"cation")
        #expect(Self.attribute(record, "syslog.sd.exampleSDID@32473.iut") == "3")
        #expect(Self.attribute(record, "syslog.sd.x@1.a") == "]]")
    }

    @Test func rfc5424WithNilValuesAndAnOffset() throws {
        let record = try Self.parse("<34>1 2003-08-24T05:14:15.000003-07:00 - - - - - 'su root' failed on /dev/pts/8")
        #expect(record.timeUnixNano == 1_061_727_255_000_003_000)
        #expect(record.severityText == "crit")
        #expect(Self.attribute(record, "syslog.facility") == "auth")
        #expect(record.stream == Labels([Label("host", "10.0.0.9"), Label("service_name", "unknown_service"), Label("source", "syslog")]))
        #expect(record.line == "'su root' failed on /dev/pts/8")
    }

    @Test func rfc3164TakesTheYearNearestTheReceiveTime() throws {
        let record = try Self.parse("<13>Nov 26 09:59:58 web-1 nginx[311]: GET / 200")
        #expect(record.timeUnixNano == Self.received - 2_000_000_000)
        #expect(record.stream == Labels([Label("app", "nginx"), Label("host", "web-1"), Label("service_name", "nginx"), Label("source", "syslog")]))
        #expect(Self.attribute(record, "syslog.procid") == "311")
        #expect(record.line == "GET / 200")
        // December's line arriving at the end of November is last year's, not next month's.
        let december = try Self.parse("<13>Dec  1 00:00:00 web-1 cron: x")
        #expect(december.timeUnixNano == 1_733_011_200 * 1_000_000_000)
        // A day of clock skew ahead is still this year.
        let ahead = try Self.parse("<13>Nov 27 09:00:00 web-1 cron: x")
        #expect(ahead.timeUnixNano > Self.received)
    }

    @Test func barePriorityAndTagAsPythonSends() throws {
        let record = try Self.parse("<11>checkout: payment failed for order 7\u{0}")
        #expect(record.severityText == "err")
        #expect(Self.attribute(record, "syslog.facility") == "user")
        #expect(record.timeUnixNano == Self.received)
        #expect(record.line == "payment failed for order 7")
        #expect(record.stream == Labels([Label("app", "checkout"), Label("host", "10.0.0.9"), Label("service_name", "checkout"), Label("source", "syslog")]))
    }

    @Test(arguments: ["no priority at all", "<999>too high", "<013>leading zero", "<12"])
    func withoutAValidPriorityTheWholeTextIsUserNotice(text: String) throws {
        let record = try Self.parse(text)
        #expect(record.severityText == "notice")
        #expect(record.line == text)
    }

    @Test func malformedRFC5424HeaderStaysInTheBody() throws {
        let record = try Self.parse("<14>1 yesterday host app - - - text")
        #expect(record.timeUnixNano == Self.received)
        #expect(record.line == "1 yesterday host app - - - text")
    }

    @Test func emptyMessagesAreRefused() {
        #expect(sightlineError { _ = try Self.parse("\n\0") }?.message.contains("empty syslog message") == true)
    }

    @Test func framesBothWaysSplitAnywhere() throws {
        let stream = Array("10 <13>first\n<13>second\n\n17 <13>third\nwith nl<13>fourth".utf8)
        for cut in 0...stream.count {
            var decoder = StreamFrameDecoder(.syslog, maxFrameBytes: 1024)
            var frames: [String] = []
            for part in [stream[..<cut], stream[cut...]] {
                decoder.append(part)
                while let frame = try decoder.next() { frames.append(String(decoding: frame, as: UTF8.self)) }
            }
            if let last = decoder.finish() { frames.append(String(decoding: last, as: UTF8.self)) }
            #expect(frames == ["<13>first\n", "<13>second", "<13>third\nwith nl", "<13>fourth"], "cut at \(cut)")
        }
    }

    @Test func oversizedAndMalformedFramesAreErrors() {
        var long = StreamFrameDecoder(.syslog, maxFrameBytes: 8)
        long.append(Array("123 <13>x".utf8))
        #expect(sightlineError { _ = try long.next() }?.message.contains("exceeds the limit of 8") == true)
        var line = StreamFrameDecoder(.syslog, maxFrameBytes: 8)
        line.append(Array("<13>abcdefghij".utf8))
        #expect(sightlineError { _ = try line.next() }?.message.contains("without a newline") == true)
        var count = StreamFrameDecoder(.syslog, maxFrameBytes: 64)
        count.append(Array("12x <13>".utf8))
        #expect(sightlineError { _ = try count.next() }?.message.contains("octet count") == true)
    }
}
