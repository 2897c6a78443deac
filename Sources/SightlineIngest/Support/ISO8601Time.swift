import SightlineCore

/// ISO 8601 / RFC 3339 date-times as log shippers send them (Elasticsearch's `@timestamp`, syslog's RFC 5424 header).
package enum ISO8601Time {
    /// Nanoseconds since the epoch of `YYYY-MM-DD[(T|t| )hh:mm[:ss[(.|,)fraction]]][Z|±hh[:]mm]`; nil when the text
    /// does not parse or is before 1970. Text without an offset is UTC.
    package static func nanoseconds(_ bytes: some Collection<UInt8>) -> UInt64? {
        let bytes = Array(bytes)
        var position = 0
        func digits(_ count: Int) -> Int? {
            guard position + count <= bytes.count else { return nil }
            var value = 0
            for index in position..<position + count {
                let byte = bytes[index]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            position += count
            return value
        }
        func accept(_ byte: UInt8) -> Bool {
            guard position < bytes.count, bytes[position] == byte else { return false }
            position += 1
            return true
        }
        guard let year = digits(4), accept(0x2D), let month = digits(2), accept(0x2D), let day = digits(2),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var hour = 0
        var minute = 0
        var second = 0
        var nanos = 0
        var offsetSeconds = 0
        if position < bytes.count {
            guard accept(0x54) || accept(0x74) || accept(0x20) else { return nil }
            guard let h = digits(2), accept(0x3A), let m = digits(2), h < 24, m < 60 else { return nil }
            hour = h
            minute = m
            if accept(0x3A) {
                guard let s = digits(2), s < 61 else { return nil }
                second = s
                if accept(0x2E) || accept(0x2C) {
                    var count = 0
                    while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 {
                        if count < 9 { nanos = nanos * 10 + Int(bytes[position] - 0x30) }
                        count += 1
                        position += 1
                    }
                    guard count > 0 else { return nil }
                    for _ in min(count, 9)..<9 { nanos *= 10 }
                }
            }
            if accept(0x5A) || accept(0x7A) {
                // UTC
            } else if position < bytes.count {
                let sign: Int
                if accept(0x2B) { sign = 1 } else if accept(0x2D) { sign = -1 } else { return nil }
                guard let oh = digits(2) else { return nil }
                _ = accept(0x3A)
                let om = position < bytes.count ? digits(2) : 0
                guard let om, oh < 24, om < 60 else { return nil }
                offsetSeconds = sign * (oh * 3600 + om * 60)
            }
        }
        guard position == bytes.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        guard seconds >= 0 else { return nil }
        return UInt64(seconds) * 1_000_000_000 + UInt64(nanos)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    package static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        Int(CivilTime.days(fromYear: Int64(year), month: Int64(month), day: Int64(day)))
    }
}
