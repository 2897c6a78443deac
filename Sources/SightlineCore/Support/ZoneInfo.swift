/// A time zone from the IANA database: which UTC offset and abbreviation hold at each instant, read from a compiled
/// zone file (TZif, RFC 8536: `/usr/share/zoneinfo/Europe/Paris`), as Go's `time.LoadLocation` reads it.
///
/// Instants before the first transition take the file's first local time type; instants after the last take the
/// file's footer rule (a POSIX `TZ` string such as `CET-1CEST,M3.5.0,M10.5.0/3`), or the last type when there is none.
package struct ZoneInfo: Sendable {
    /// A local time type: the offset east of UTC, whether it is daylight time, and its abbreviation (`CEST`).
    package struct Kind: Sendable, Equatable {
        package var offset: Int
        package var isDaylight: Bool
        package var abbreviation: String

        package init(offset: Int, isDaylight: Bool, abbreviation: String) {
            self.offset = offset
            self.isDaylight = isDaylight
            self.abbreviation = abbreviation
        }
    }

    /// The zone's name (`Europe/Paris`, `UTC`).
    package let name: String
    private let kinds: [Kind]
    /// Transition instants in seconds since the epoch, ascending, and the type each one starts.
    private let transitions: [Int64]
    private let transitionKinds: [Int]
    private let rule: ZoneRule?

    /// Coordinated Universal Time.
    package static let utc = ZoneInfo(name: "UTC", kinds: [Kind(offset: 0, isDaylight: false, abbreviation: "UTC")], transitions: [], transitionKinds: [], rule: nil)

    private init(name: String, kinds: [Kind], transitions: [Int64], transitionKinds: [Int], rule: ZoneRule?) {
        self.name = name
        self.kinds = kinds
        self.transitions = transitions
        self.transitionKinds = transitionKinds
        self.rule = rule
    }

    /// Reads a compiled zone file.
    /// - Throws: ``ZoneInfoError`` when the bytes are not a TZif file or are cut short.
    package init(name: String, tzif bytes: [UInt8]) throws(ZoneInfoError) {
        var reader = TZifReader(bytes: bytes)
        var header = try reader.header()
        var timeSize = 4
        if header.version >= 2 {
            // Skip the 32-bit block; the 64-bit one after it has the whole range.
            try reader.skip(header.timeCount * 5 + header.typeCount * 6 + header.charCount + header.leapCount * 8 + header.standardCount + header.utcCount)
            header = try reader.header()
            timeSize = 8
        }
        var transitions: [Int64] = []
        transitions.reserveCapacity(header.timeCount)
        for _ in 0..<header.timeCount { transitions.append(try reader.signed(timeSize)) }
        var transitionKinds: [Int] = []
        transitionKinds.reserveCapacity(header.timeCount)
        for _ in 0..<header.timeCount {
            let kind = Int(try reader.byte())
            guard kind < header.typeCount else { throw ZoneInfoError("zone file \(name): transition to local time type \(kind) of \(header.typeCount)") }
            transitionKinds.append(kind)
        }
        var rawKinds: [(offset: Int, isDaylight: Bool, index: Int)] = []
        for _ in 0..<header.typeCount {
            let offset = Int(try reader.signed(4))
            let isDaylight = try reader.byte() != 0
            rawKinds.append((offset, isDaylight, Int(try reader.byte())))
        }
        let characters = Array(try reader.bytes(header.charCount))
        let kinds = rawKinds.map { raw -> Kind in
            let start = min(raw.index, characters.count)
            let end = characters[start...].firstIndex(of: 0) ?? characters.count
            return Kind(offset: raw.offset, isDaylight: raw.isDaylight, abbreviation: String(decoding: characters[start..<end], as: UTF8.self))
        }
        guard !kinds.isEmpty else { throw ZoneInfoError("zone file \(name) has no local time types") }
        try reader.skip(header.leapCount * (timeSize + 4) + header.standardCount + header.utcCount)
        var rule: ZoneRule?
        if header.version >= 2, let footer = reader.footer(), !footer.isEmpty {
            rule = ZoneRule(posix: footer)
        }
        self.init(name: name, kinds: kinds, transitions: transitions, transitionKinds: transitionKinds, rule: rule)
    }

    /// The local time type in force at `second` (since the epoch).
    package func kind(atSecond second: Int64) -> Kind {
        guard let last = transitions.last, second >= transitions[0] else { return kinds[0] }
        if second >= last, let rule { return rule.kind(atSecond: second) }
        // The last transition at or before `second`.
        var low = 0
        var high = transitions.count
        while high - low > 1 {
            let middle = (low + high) / 2
            if transitions[middle] <= second { low = middle } else { high = middle }
        }
        return kinds[transitionKinds[low]]
    }
}

/// A zone file that cannot be read, naming the file and what is wrong.
package struct ZoneInfoError: Error, Sendable, CustomStringConvertible {
    package var message: String
    init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// Reads a TZif file's big-endian fields.
private struct TZifReader {
    struct Header {
        var version: Int
        var utcCount: Int, standardCount: Int, leapCount: Int, timeCount: Int, typeCount: Int, charCount: Int
    }

    let bytes: [UInt8]
    var index = 0

    mutating func header() throws(ZoneInfoError) -> Header {
        guard try self.bytes(4).elementsEqual("TZif".utf8) else { throw ZoneInfoError("not a TZif zone file") }
        let versionByte = try byte()
        try skip(15)
        var counts: [Int] = []
        for _ in 0..<6 {
            let count = try signed(4)
            guard count >= 0, count < 1 << 20 else { throw ZoneInfoError("zone file count \(count) out of range") }
            counts.append(Int(count))
        }
        let version = versionByte == 0 ? 1 : Int(versionByte) - 0x30
        return Header(
            version: version, utcCount: counts[0], standardCount: counts[1], leapCount: counts[2], timeCount: counts[3], typeCount: counts[4],
            charCount: counts[5])
    }

    mutating func byte() throws(ZoneInfoError) -> UInt8 {
        guard index < bytes.count else { throw ZoneInfoError("zone file cut short") }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func bytes(_ count: Int) throws(ZoneInfoError) -> ArraySlice<UInt8> {
        guard count <= bytes.count - index else { throw ZoneInfoError("zone file cut short") }
        defer { index += count }
        return bytes[index..<(index + count)]
    }

    mutating func skip(_ count: Int) throws(ZoneInfoError) { _ = try bytes(count) }

    /// A big-endian two's-complement integer of `size` bytes.
    mutating func signed(_ size: Int) throws(ZoneInfoError) -> Int64 {
        var value: UInt64 = 0
        for byte in try bytes(size) { value = value << 8 | UInt64(byte) }
        let shift = UInt64(64 - size * 8)
        return Int64(bitPattern: value << shift) >> Int64(shift)
    }

    /// The footer of a version 2+ file: the POSIX TZ string between two newlines.
    func footer() -> String? {
        guard index < bytes.count, bytes[index] == 0x0A else { return nil }
        let rest = bytes[(index + 1)...]
        guard let end = rest.firstIndex(of: 0x0A) else { return nil }
        return String(decoding: rest[..<end], as: UTF8.self)
    }
}

/// A POSIX `TZ` rule (`EST5EDT,M3.2.0,M11.1.0`): standard time, and optionally daylight time between two dates of
/// every year. Offsets in the text count west of UTC; ``ZoneInfo/Kind`` offsets count east.
struct ZoneRule: Sendable {
    /// A day of the year a change happens on.
    enum Day: Sendable {
        /// `Jn`: day 1…365, February 29 never counted.
        case julian(Int)
        /// `n`: day 0…365, February 29 counted in leap years.
        case zeroBased(Int)
        /// `Mm.w.d`: weekday `d` (0 = Sunday) of week `w` (1…5, 5 = the last) of month `m`.
        case monthWeek(month: Int, week: Int, weekday: Int)
    }

    var standard: ZoneInfo.Kind
    var daylight: ZoneInfo.Kind?
    /// When daylight time starts and ends: the day and the local time (seconds after midnight; may be negative or
    /// past 24 h), the start in standard time and the end in daylight time.
    var start: (day: Day, second: Int) = (.monthWeek(month: 3, week: 2, weekday: 0), 7200)
    var end: (day: Day, second: Int) = (.monthWeek(month: 11, week: 1, weekday: 0), 7200)

    /// Parses `text`; nil when it is not a POSIX TZ string.
    init?(posix text: String) {
        var scanner = PosixScanner(scalars: Array(text.unicodeScalars))
        guard let standardName = scanner.name(), let standardWest = scanner.offset() else { return nil }
        standard = ZoneInfo.Kind(offset: -standardWest, isDaylight: false, abbreviation: standardName)
        if scanner.isAtEnd { return }
        guard let daylightName = scanner.name() else { return nil }
        var daylightWest = standardWest - 3600
        if !scanner.isAtEnd, scanner.peek != ",", let west = scanner.offset() { daylightWest = west }
        daylight = ZoneInfo.Kind(offset: -daylightWest, isDaylight: true, abbreviation: daylightName)
        if scanner.isAtEnd { return }  // No rule: the US rules, POSIX's default.
        guard scanner.take(","), let start = scanner.change(), scanner.take(","), let end = scanner.change(), scanner.isAtEnd else { return nil }
        self.start = start
        self.end = end
    }

    /// The local time type at `second` since the epoch.
    func kind(atSecond second: Int64) -> ZoneInfo.Kind {
        guard let daylight else { return standard }
        let year = CivilTime.civil(fromDays: CivilTime.floorDivide(second + Int64(standard.offset), 86_400)).year
        // The changes in UTC: the start is written in standard time, the end in daylight time.
        let startsAt = Self.midnight(of: start.day, year: year) + Int64(start.second) - Int64(standard.offset)
        let endsAt = Self.midnight(of: end.day, year: year) + Int64(end.second) - Int64(daylight.offset)
        let inDaylight = startsAt < endsAt ? (second >= startsAt && second < endsAt) : !(second >= endsAt && second < startsAt)
        return inDaylight ? daylight : standard
    }

    /// Seconds since the epoch at 00:00 (UTC clock) of the rule's day in `year`.
    static func midnight(of day: Day, year: Int64) -> Int64 {
        let january1 = CivilTime.days(fromYear: year, month: 1, day: 1)
        let isLeap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days: Int64
        switch day {
        case .julian(let n):
            days = january1 + Int64(n - 1) + (isLeap && n >= 60 ? 1 : 0)
        case .zeroBased(let n):
            days = january1 + Int64(n)
        case .monthWeek(let month, let week, let weekday):
            let first = CivilTime.days(fromYear: year, month: Int64(month), day: 1)
            // 1970-01-01 was a Thursday (4).
            let firstWeekday = Int(((first % 7) + 11) % 7)
            var dayOfMonth = 1 + (weekday - firstWeekday + 7) % 7 + (week - 1) * 7
            let monthLength: Int =
                switch month {
                case 2: isLeap ? 29 : 28
                case 4, 6, 9, 11: 30
                default: 31
                }
            while dayOfMonth > monthLength { dayOfMonth -= 7 }
            days = first + Int64(dayOfMonth - 1)
        }
        return days * 86_400
    }
}

/// Reads the parts of a POSIX TZ string.
private struct PosixScanner {
    let scalars: [Unicode.Scalar]
    var index = 0

    var isAtEnd: Bool { index >= scalars.count }
    var peek: Unicode.Scalar? { isAtEnd ? nil : scalars[index] }

    mutating func take(_ scalar: Unicode.Scalar) -> Bool {
        guard peek == scalar else { return false }
        index += 1
        return true
    }

    /// A zone abbreviation: three or more letters, or anything between `<` and `>` (`<+0545>`).
    mutating func name() -> String? {
        if take("<") {
            guard let close = scalars[index...].firstIndex(of: ">") else { return nil }
            defer { index = close + 1 }
            return String(String.UnicodeScalarView(scalars[index..<close]))
        }
        let start = index
        while let scalar = peek, scalar.properties.isAlphabetic, scalar.isASCII { index += 1 }
        return index - start >= 3 ? String(String.UnicodeScalarView(scalars[start..<index])) : nil
    }

    /// `[+-]h[h][:mm[:ss]]` in seconds; hours up to 167 as RFC 8536 allows.
    mutating func offset() -> Int? {
        var sign = 1
        if take("-") { sign = -1 } else { _ = take("+") }
        guard let hours = number(), hours <= 167 else { return nil }
        var seconds = hours * 3600
        if take(":") {
            guard let minutes = number(), minutes < 60 else { return nil }
            seconds += minutes * 60
            if take(":") {
                guard let secs = number(), secs < 60 else { return nil }
                seconds += secs
            }
        }
        return sign * seconds
    }

    /// A change: a day, then optionally `/time` (default 02:00).
    mutating func change() -> (day: ZoneRule.Day, second: Int)? {
        let day: ZoneRule.Day
        if take("J") {
            guard let n = number(), (1...365).contains(n) else { return nil }
            day = .julian(n)
        } else if take("M") {
            guard let month = number(), (1...12).contains(month), take("."), let week = number(), (1...5).contains(week), take("."),
                let weekday = number(), (0...6).contains(weekday)
            else { return nil }
            day = .monthWeek(month: month, week: week, weekday: weekday)
        } else {
            guard let n = number(), (0...365).contains(n) else { return nil }
            day = .zeroBased(n)
        }
        var second = 7200
        if take("/") {
            guard let time = offset() else { return nil }
            second = time
        }
        return (day, second)
    }

    mutating func number() -> Int? {
        let start = index
        var value = 0
        while let scalar = peek, ("0"..."9").contains(scalar), index - start < 4 {
            value = value * 10 + Int(scalar.value - 0x30)
            index += 1
        }
        return index > start ? value : nil
    }
}
