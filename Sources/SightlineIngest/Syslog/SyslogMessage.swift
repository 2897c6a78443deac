package import SightlineCore

/// Turns one syslog message into a log record: RFC 5424, RFC 3164 (BSD), and the bare `<PRI>message` that many
/// libraries send (Python's `SysLogHandler` among them).
///
/// The record gets:
/// - time: the header's timestamp; the receive time when the header has none. An RFC 3164 timestamp has no year and no
///   zone: it is read as UTC in the latest year that puts it at most a day after the receive time (so December's
///   lines arriving in January keep last year).
/// - severity from PRI (`emerg` … `debug`, mapped onto OpenTelemetry's numbers), `severityText` the syslog keyword;
/// - body: the MSG part, without a UTF-8 BOM and without trailing NUL, CR and LF;
/// - attributes `syslog.facility` (the keyword, e.g. `auth`), `syslog.procid`, `syslog.msgid`, `syslog.version`, and
///   one `syslog.sd.<SD-ID>.<PARAM-NAME>` per structured-data parameter;
/// - stream labels `source="syslog"`, `host` (the header's hostname, else the sender's address), `app` (APP-NAME or
///   the RFC 3164 tag) and `service_name` (the app, else `unknown_service`), as Loki 3 would give the stream (see
///   ``LokiServiceName``).
///
/// Parsing is lenient as syslog daemons are: a message without a valid PRI is `user.notice` with the whole text as
/// its body (RFC 3164 §4.3.3), and a header that does not parse leaves the text in the body. Only an empty message
/// is refused.
package enum SyslogMessage {
    /// Parses one message.
    /// - Parameters:
    ///   - bytes: the message without framing.
    ///   - receivedAtNano: when it arrived; the time of messages without one, and the observed time of all.
    ///   - peer: the sender's address, the `host` label when the header names no host.
    /// - Throws: `invalidArgument` for an empty message.
    package static func parse(_ bytes: some Collection<UInt8>, receivedAtNano: UInt64, peer: String = "") throws -> LogRecord {
        var text = Array(bytes)
        while let last = text.last, last == 0 || last == 0x0A || last == 0x0D { text.removeLast() }
        guard !text.isEmpty else { throw SightlineError(.invalidArgument, "empty syslog message") }
        var cursor = SyslogCursor(text)
        let priority = cursor.priority() ?? 13
        var header = Header()
        if let rfc5424 = Self.rfc5424Header(&cursor) {
            header = rfc5424
        } else {
            header = Self.rfc3164Header(&cursor, receivedAtNano: receivedAtNano)
        }
        var message = Array(text[cursor.position...])
        if message.starts(with: [0xEF, 0xBB, 0xBF]) { message.removeFirst(3) }

        let severity = priority & 7
        var attributes = [Attribute("syslog.facility", .string(Self.facilities[priority >> 3]))]
        if let version = header.version { attributes.append(Attribute("syslog.version", .int(Int64(version)))) }
        if !header.procID.isEmpty { attributes.append(Attribute("syslog.procid", .string(header.procID))) }
        if !header.msgID.isEmpty { attributes.append(Attribute("syslog.msgid", .string(header.msgID))) }
        for element in header.structuredData {
            for (name, value) in element.parameters { attributes.append(Attribute("syslog.sd.\(element.id).\(name)", .string(value))) }
        }
        let host = header.hostname.isEmpty ? peer : header.hostname
        return LogRecord(
            timeUnixNano: header.timeUnixNano ?? receivedAtNano, observedTimeUnixNano: receivedAtNano,
            severityNumber: Self.severityNumbers[severity], severityText: Self.severityKeywords[severity],
            body: .string(String(decoding: message, as: UTF8.self)), attributes: attributes,
            stream: LokiServiceName.discovered(Labels([Label("app", header.appName), Label("host", host), Label("source", "syslog")])))
    }

    /// Syslog severities 0–7 as OpenTelemetry severity numbers: emerg and alert FATAL3/FATAL2, crit FATAL, err ERROR,
    /// warning WARN, notice INFO2, info INFO, debug DEBUG.
    package static let severityNumbers: [Int32] = [23, 22, 21, 17, 13, 10, 9, 5]
    package static let severityKeywords = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]
    package static let facilities = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp", "audit",
        "alert", "clock", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
    ]

    /// What a header says; empty fields when it does not say.
    struct Header {
        var version: Int?
        var timeUnixNano: UInt64?
        var hostname = ""
        var appName = ""
        var procID = ""
        var msgID = ""
        var structuredData: [(id: String, parameters: [(String, String)])] = []
    }

    /// `VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]`; nil (and the
    /// cursor unmoved) when the text after PRI is not such a header.
    static func rfc5424Header(_ cursor: inout SyslogCursor) -> Header? {
        var probe = cursor
        guard let versionText = probe.field(), let version = Int(versionText), (1...99).contains(version), versionText.first != "0" else {
            return nil
        }
        guard let timestamp = probe.field(), let hostname = probe.field(), let appName = probe.field(),
            let procID = probe.field(), let msgID = probe.field()
        else { return nil }
        var header = Header(version: version)
        if timestamp != "-" {
            guard let nanos = ISO8601Time.nanoseconds(timestamp.utf8) else { return nil }
            header.timeUnixNano = nanos
        }
        func value(_ field: String) -> String { field == "-" ? "" : field }
        header.hostname = value(hostname)
        header.appName = value(appName)
        header.procID = value(procID)
        header.msgID = value(msgID)
        guard let structuredData = probe.structuredData() else { return nil }
        header.structuredData = structuredData
        probe.skipSpace()
        cursor = probe
        return header
    }

    /// `Mmm dd hh:mm:ss HOSTNAME TAG[PID]: ` (each part optional from the left, as senders vary): the timestamp when
    /// there is one, the hostname when a timestamp precedes it, and the tag when the text starts with one.
    static func rfc3164Header(_ cursor: inout SyslogCursor, receivedAtNano: UInt64) -> Header {
        var header = Header()
        if let time = cursor.bsdTimestamp(receivedAtNano: receivedAtNano) {
            header.timeUnixNano = time
            cursor.skipSpace()
            var probe = cursor
            // A hostname is a word followed by a space, unless that word is already the tag (ends with ':' or ']').
            if let word = probe.field(), !word.hasSuffix(":"), !word.hasSuffix("]"), !word.contains("[") {
                header.hostname = word
                cursor = probe
            }
        }
        if let (tag, procID) = cursor.tag() {
            header.appName = tag
            header.procID = procID
        }
        return header
    }
}

/// A read position in one message.
struct SyslogCursor {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position >= bytes.count }

    /// `<PRI>` with PRI in 0…191 and at most three digits, no leading zero but `<0>`; nil (unmoved) otherwise.
    mutating func priority() -> Int? {
        guard bytes.first == UInt8(ascii: "<") else { return nil }
        var index = 1
        var value = 0
        while index < bytes.count, index <= 4, let digit = Self.digit(bytes[index]) {
            value = value * 10 + digit
            index += 1
        }
        let digits = index - 1
        guard digits >= 1, digits <= 3, index < bytes.count, bytes[index] == UInt8(ascii: ">"), value <= 191,
            digits == 1 || bytes[1] != UInt8(ascii: "0")
        else { return nil }
        position = index + 1
        return value
    }

    /// The next run of bytes up to a space, and the space after it; nil at the end.
    mutating func field() -> String? {
        guard !atEnd else { return nil }
        let start = position
        while position < bytes.count, bytes[position] != 0x20 { position += 1 }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        if position < bytes.count { position += 1 } else if start == position { return nil }
        return text
    }

    mutating func skipSpace() {
        while position < bytes.count, bytes[position] == 0x20 { position += 1 }
    }

    /// `-` or one or more `[SD-ID *(SP PARAM-NAME="PARAM-VALUE")]`, values with `\"`, `\\` and `\]` escapes.
    mutating func structuredData() -> [(id: String, parameters: [(String, String)])]? {
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") {
            position += 1
            return []
        }
        var elements: [(id: String, parameters: [(String, String)])] = []
        while position < bytes.count, bytes[position] == UInt8(ascii: "[") {
            position += 1
            guard let id = name(), !id.isEmpty else { return nil }
            var parameters: [(String, String)] = []
            while position < bytes.count, bytes[position] == 0x20 {
                position += 1
                guard let parameter = name(), !parameter.isEmpty, position + 1 < bytes.count, bytes[position] == UInt8(ascii: "="),
                    bytes[position + 1] == UInt8(ascii: "\"")
                else { return nil }
                position += 2
                var value: [UInt8] = []
                var closed = false
                while position < bytes.count {
                    let byte = bytes[position]
                    position += 1
                    if byte == UInt8(ascii: "\\"), position < bytes.count,
                        [UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "]")].contains(bytes[position])
                    {
                        value.append(bytes[position])
                        position += 1
                    } else if byte == UInt8(ascii: "\"") {
                        closed = true
                        break
                    } else {
                        value.append(byte)
                    }
                }
                guard closed else { return nil }
                parameters.append((parameter, String(decoding: value, as: UTF8.self)))
            }
            guard position < bytes.count, bytes[position] == UInt8(ascii: "]") else { return nil }
            position += 1
            elements.append((id, parameters))
        }
        return elements.isEmpty ? nil : elements
    }

    /// An SD-NAME: printable ASCII except `=`, space, `]` and `"`.
    private mutating func name() -> String? {
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            if byte <= 0x20 || byte >= 0x7F || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "]") || byte == UInt8(ascii: "\"") { break }
            position += 1
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    /// `Mmm dd hh:mm:ss` (day space-padded or not) as UTC in the latest year that puts it at most a day after
    /// `receivedAtNano`; nil (unmoved) otherwise.
    mutating func bsdTimestamp(receivedAtNano: UInt64) -> UInt64? {
        guard bytes.count - position >= 15 else { return nil }
        let monthText = String(decoding: bytes[position..<position + 3], as: UTF8.self)
        guard let monthIndex = Self.months.firstIndex(of: monthText), bytes[position + 3] == 0x20 else { return nil }
        var index = position + 4
        if bytes[index] == 0x20 { index += 1 }
        var day = 0
        var dayDigits = 0
        while index < bytes.count, let digit = Self.digit(bytes[index]), dayDigits < 2 {
            day = day * 10 + digit
            dayDigits += 1
            index += 1
        }
        guard dayDigits > 0, (1...31).contains(day), index + 9 <= bytes.count, bytes[index] == 0x20 else { return nil }
        index += 1
        guard let hour = twoDigits(at: index), bytes[index + 2] == UInt8(ascii: ":"), let minute = twoDigits(at: index + 3),
            bytes[index + 5] == UInt8(ascii: ":"), let second = twoDigits(at: index + 6), hour < 24, minute < 60, second < 61
        else { return nil }
        index += 8
        let receivedSeconds = Int(receivedAtNano / 1_000_000_000)
        let receivedYear = Self.year(ofEpochDay: receivedSeconds / 86_400)
        // The latest year that does not put the line more than a day (of clock skew) after its arrival.
        var best: Int?
        for year in [receivedYear + 1, receivedYear, receivedYear - 1] {
            let seconds = ISO8601Time.daysFromCivil(year: year, month: monthIndex + 1, day: day) * 86_400 + hour * 3600 + minute * 60 + second
            if seconds <= receivedSeconds + 86_400 {
                best = seconds
                break
            }
        }
        guard let best, best >= 0 else { return nil }
        position = index
        return UInt64(best) * 1_000_000_000
    }

    /// `TAG[PID]: ` or `TAG: ` where TAG is 1–48 of `[A-Za-z0-9_.\-/]`; nil (unmoved) otherwise.
    mutating func tag() -> (String, String)? {
        var index = position
        while index < bytes.count, index - position < 48, Self.isTagByte(bytes[index]) { index += 1 }
        guard index > position, index < bytes.count else { return nil }
        let tag = String(decoding: bytes[position..<index], as: UTF8.self)
        var procID = ""
        if bytes[index] == UInt8(ascii: "[") {
            guard let close = bytes[index...].firstIndex(of: UInt8(ascii: "]")), close - index <= 129 else { return nil }
            procID = String(decoding: bytes[(index + 1)..<close], as: UTF8.self)
            index = close + 1
        }
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
        index += 1
        if index < bytes.count, bytes[index] == 0x20 { index += 1 }
        position = index
        return (tag, procID)
    }

    private func twoDigits(at index: Int) -> Int? {
        guard index + 1 < bytes.count, let high = Self.digit(bytes[index]), let low = Self.digit(bytes[index + 1]) else { return nil }
        return high * 10 + low
    }

    private static func digit(_ byte: UInt8) -> Int? { byte >= 0x30 && byte <= 0x39 ? Int(byte - 0x30) : nil }

    private static func isTagByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "/")
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The Gregorian year of a day counted from 1970-01-01.
    private static func year(ofEpochDay day: Int) -> Int {
        var year = 1970 + day / 366
        while ISO8601Time.daysFromCivil(year: year + 1, month: 1, day: 1) <= day { year += 1 }
        return year
    }
}
