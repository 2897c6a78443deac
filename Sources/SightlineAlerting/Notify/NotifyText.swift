package import SightlineCore

/// Alertmanager's alert fingerprint: FNV-1a 64 over the label names and values in name order, each followed by the
/// byte 0xFF, printed as 16 hex digits. Prometheus and Alertmanager compute the same number for the same label set,
/// so fingerprints in the API and in webhook payloads match what their users expect.
package enum AlertFingerprint {
    private static let offset: UInt64 = 14_695_981_039_346_656_037
    private static let prime: UInt64 = 1_099_511_628_211

    /// The fingerprint of `labels` (already sorted by name).
    package static func of(_ labels: Labels) -> UInt64 {
        var hash = offset
        for label in labels.labels {
            for byte in label.name.utf8 { hash = (hash ^ UInt64(byte)) &* prime }
            hash = (hash ^ 0xFF) &* prime
            for byte in label.value.utf8 { hash = (hash ^ UInt64(byte)) &* prime }
            hash = (hash ^ 0xFF) &* prime
        }
        return hash
    }

    /// `%016x` of a fingerprint.
    package static func text(_ fingerprint: UInt64) -> String {
        let hex = String(fingerprint, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex
    }
}

/// SHA-256, for PagerDuty's `dedup_key` (Alertmanager sends the hex SHA-256 of the group key). Written here because
/// the project links no system crypto library; speed does not matter for one hash per notification.
package enum SHA256 {
    private static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    /// The digest of `bytes`.
    package static func digest(_ bytes: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [
            0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
        ]
        var message = bytes
        let bitLength = UInt64(bytes.count) &* 8
        message.append(0x80)
        while message.count % 64 != 56 { message.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { message.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        var w = [UInt32](repeating: 0, count: 64)
        for chunk in stride(from: 0, to: message.count, by: 64) {
            for i in 0..<16 {
                let j = chunk + i * 4
                w[i] = UInt32(message[j]) << 24 | UInt32(message[j + 1]) << 16 | UInt32(message[j + 2]) << 8 | UInt32(message[j + 3])
            }
            for i in 16..<64 {
                let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
            for i in 0..<64 {
                let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                let ch = (e & f) ^ (~e & g)
                let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
                let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                let maj = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ maj
                hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
        }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for word in h { for shift in [24, 16, 8, 0] { out.append(UInt8(truncatingIfNeeded: word >> UInt32(shift))) } }
        return out
    }

    /// The lowercase hex digest of a string's UTF-8 bytes.
    package static func hex(_ text: String) -> String { Hex.encode(digest(Array(text.utf8))) }

    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
}

/// RFC 3339 timestamps as Go's `time.Time` writes them in JSON (UTC, fractional seconds without trailing zeros), and
/// the zero time `0001-01-01T00:00:00Z` for "unset", which Alertmanager's payloads use.
package enum NotifyRFC3339 {
    /// Go's zero time, what Alertmanager writes for an unset `endsAt`.
    package static let zero = "0001-01-01T00:00:00Z"

    /// Formats ms since the epoch.
    package static func format(ms: Int64) -> String {
        let seconds = CivilTime.floorDivide(ms, 1000)
        return CivilTime.rfc3339(seconds: seconds, nanosecond: (ms - seconds * 1000) * 1_000_000, trimZeros: true)
    }

    /// Formats an optional time, nil as the zero time.
    package static func format(optionalMs ms: Int64?) -> String { ms.map { format(ms: $0) } ?? zero }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to ms since the epoch; nil when malformed. The zero time
    /// (year 1) parses to nil-equivalent `Int64.min` so callers can treat it as unset.
    package static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func number(_ start: Int, _ count: Int) -> Int64? {
            guard start + count <= b.count else { return nil }
            var value: Int64 = 0
            for i in start..<(start + count) {
                guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                value = value * 10 + Int64(b[i] - 0x30)
            }
            return value
        }
        guard b.count >= 20, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54 || b[10] == 0x74 || b[10] == 0x20, b[13] == 0x3A, b[16] == 0x3A,
            let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
            let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fractionMs: Int64 = 0
        if index < b.count, b[index] == 0x2E {
            index += 1
            var scale: Int64 = 100
            let start = index
            while index < b.count, b[index] >= 0x30, b[index] <= 0x39 {
                fractionMs += Int64(b[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < b.count else { return nil }
        var offsetMs: Int64 = 0
        if b[index] == 0x5A || b[index] == 0x7A {
            index += 1
        } else if b[index] == 0x2B || b[index] == 0x2D {
            guard let oh = number(index + 1, 2), index + 3 < b.count, b[index + 3] == 0x3A, let om = number(index + 4, 2) else { return nil }
            offsetMs = (oh * 60 + om) * 60_000 * (b[index] == 0x2B ? 1 : -1)
            index += 6
        } else {
            return nil
        }
        guard index == b.count else { return nil }
        let days = days(fromCivil: year, month, day)
        return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + fractionMs - offsetMs
    }

    /// Whether `ms` is Go's zero time or earlier (year 1), which JSON senders use for "unset".
    package static func isZero(_ ms: Int64) -> Bool { ms <= -62_135_596_800_000 }

    /// Days since 1970-01-01 of a civil date.
    package static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        CivilTime.days(fromYear: year, month: month, day: day)
    }

    /// The civil date of a day count since 1970-01-01.
    package static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        CivilTime.civil(fromDays: days)
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { CivilTime.floorDivide(a, b) }
}

/// Durations as Prometheus and Alertmanager write them (`30s`, `5m`, `1h30m`, `500ms`), in milliseconds.
package enum NotifyDuration {
    /// Parses `<integer><unit>` terms with units ms, s, m, h, d, w, y; nil when anything else is present.
    package static func parseMs(_ text: String) -> Int64? {
        var total: Int64 = 0
        var digits = ""
        let chars = Array(text)
        var index = 0
        guard !chars.isEmpty else { return nil }
        if text == "0" { return 0 }
        while index < chars.count {
            let c = chars[index]
            if c.isASCII, c.isNumber {
                digits.append(c)
                index += 1
                continue
            }
            guard let value = Int64(digits) else { return nil }
            digits = ""
            var unit = String(c)
            index += 1
            if unit == "m", index < chars.count, chars[index] == "s" {
                unit = "ms"
                index += 1
            }
            let scale: Int64
            switch unit {
            case "ms": scale = 1
            case "s": scale = 1000
            case "m": scale = 60_000
            case "h": scale = 3_600_000
            case "d": scale = 86_400_000
            case "w": scale = 604_800_000
            case "y": scale = 31_536_000_000
            default: return nil
            }
            total += value * scale
        }
        return digits.isEmpty ? total : nil
    }

    /// Formats ms the way Prometheus prints durations: `1h30m`, `5m`, `30s`, `0s`.
    package static func format(ms: Int64) -> String {
        if ms == 0 { return "0s" }
        var rest = ms
        var out = ""
        for (unit, scale) in [("y", Int64(31_536_000_000)), ("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
            if rest >= scale {
                out += "\(rest / scale)\(unit)"
                rest %= scale
            }
        }
        return out
    }
}
