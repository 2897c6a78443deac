import SightlineCore

/// Byte-level substring search: `|=` compares bytes, as Loki does, not Unicode characters.
enum ByteSearch {
    /// Whether `haystack` contains `needle` (an empty needle is always contained).
    static func contains(_ haystack: String, _ needle: [UInt8]) -> Bool {
        if needle.isEmpty { return true }
        var haystack = haystack
        return haystack.withUTF8 { buffer in index(of: needle, in: buffer, from: 0) != nil }
    }

    /// The first offset at or after `from` where `needle` starts in `buffer`.
    static func index(of needle: [UInt8], in buffer: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        let n = needle.count
        guard n > 0 else { return from }
        guard buffer.count - from >= n else { return nil }
        let first = needle[0]
        var i = from
        let last = buffer.count - n
        while i <= last {
            if buffer[i] == first {
                var j = 1
                while j < n && buffer[i + j] == needle[j] { j += 1 }
                if j == n { return i }
            }
            i += 1
        }
        return nil
    }
}

/// An unanchored regular expression as line filters and the `regexp` parser use it. Swift's `Regex` stands in for
/// Go's RE2; `(?P<name>…)` groups are accepted. A pattern without metacharacters is matched as a plain substring.
final class LogRegex: @unchecked Sendable {
    private let regex: Regex<AnyRegexOutput>
    private let literal: [UInt8]?

    init?(_ pattern: String) {
        let converted = pattern.replacingOccurrences(of: "(?P<", with: "(?<")
        guard let regex = try? Regex(converted) else { return nil }
        self.regex = regex
        let meta = Set(#"\.+*?()|[]{}^$"#.utf8)
        literal = pattern.utf8.contains(where: { meta.contains($0) }) ? nil : Array(pattern.utf8)
    }

    /// Whether the regex matches somewhere in `text`.
    func matches(_ text: String) -> Bool {
        if let literal { return ByteSearch.contains(text, literal) }
        return (try? regex.firstMatch(in: text)) != nil
    }

    /// The first match's named groups, in pattern order (nil value for groups that did not take part).
    func namedGroups(_ text: String) -> [(name: String, value: String?)]? {
        guard let match = try? regex.firstMatch(in: text) else { return nil }
        var out: [(String, String?)] = []
        for element in match.output {
            guard let name = element.name else { continue }
            out.append((name, element.substring.map(String.init)))
        }
        return out
    }
}

extension String {
    /// `self` with every occurrence of `target` replaced (byte-wise), without Foundation.
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        let needle = Array(target.utf8)
        guard !needle.isEmpty else { return self }
        var source = self
        return source.withUTF8 { buffer in
            var out: [UInt8] = []
            out.reserveCapacity(buffer.count)
            var position = 0
            while let found = ByteSearch.index(of: needle, in: buffer, from: position) {
                out.append(contentsOf: buffer[position..<found])
                out.append(contentsOf: replacement.utf8)
                position = found + needle.count
            }
            out.append(contentsOf: buffer[position...])
            return String(decoding: out, as: UTF8.self)
        }
    }
}

/// The named groups of a regular expression, read from its text: `(?P<name>`, `(?<name>` and `(?'name'`.
enum RegexGroupNames {
    static func names(in pattern: String) -> [String] {
        let scalars = Array(pattern.unicodeScalars)
        var out: [String] = []
        var index = 0
        while index < scalars.count {
            if scalars[index] == "\\" {
                index += 2
                continue
            }
            if scalars[index] == "(" && index + 2 < scalars.count && scalars[index + 1] == "?" {
                var start = index + 2
                var close: Unicode.Scalar = ">"
                if scalars[start] == "P" && start + 1 < scalars.count && scalars[start + 1] == "<" {
                    start += 2
                } else if scalars[start] == "<" && start + 1 < scalars.count && scalars[start + 1] != "=" && scalars[start + 1] != "!" {
                    start += 1
                } else if scalars[start] == "'" {
                    start += 1
                    close = "'"
                } else {
                    index += 1
                    continue
                }
                var end = start
                while end < scalars.count && scalars[end] != close { end += 1 }
                out.append(String(String.UnicodeScalarView(scalars[start..<min(end, scalars.count)])))
                index = end
            }
            index += 1
        }
        return out
    }
}

/// `ip("…")` in line and label filters: one address, a CIDR prefix (`10.0.0.0/8`, `2001:db8::/32`) or a dash range
/// (`10.0.0.1-10.0.0.9`), IPv4 or IPv6. An IPv4 pattern matches only IPv4 addresses and an IPv6 one only IPv6
/// addresses, as Go's `netip` compares them.
struct IPMatcher: Sendable {
    /// An address as a 128-bit number and its family.
    struct Address: Comparable, Sendable {
        var high: UInt64
        var low: UInt64
        var isV4: Bool

        static func < (a: Address, b: Address) -> Bool { (a.high, a.low) < (b.high, b.low) }
    }

    private let first: Address
    private let last: Address

    init?(_ pattern: String) {
        let text = pattern.trimmingSpaces
        if let slash = text.firstIndex(of: "/") {
            guard let base = Self.parse(text[..<slash]), let bits = Int(text[text.index(after: slash)...]), bits >= 0, bits <= (base.isV4 ? 32 : 128)
            else { return nil }
            let total = base.isV4 ? bits + 96 : bits
            let (maskHigh, maskLow) = Self.mask(total)
            first = Address(high: base.high & maskHigh, low: base.low & maskLow, isV4: base.isV4)
            last = Address(high: base.high | ~maskHigh, low: base.low | ~maskLow, isV4: base.isV4)
        } else if let dash = text.firstIndex(of: "-") {
            guard let a = Self.parse(text[..<dash]), let b = Self.parse(text[text.index(after: dash)...]), a.isV4 == b.isV4, !(b < a) else { return nil }
            first = a
            last = b
        } else {
            guard let a = Self.parse(Substring(text)) else { return nil }
            first = a
            last = a
        }
    }

    /// The masks of a prefix of `bits` bits over 128.
    private static func mask(_ bits: Int) -> (UInt64, UInt64) {
        let high: UInt64 = bits >= 64 ? ~0 : (bits == 0 ? 0 : ~0 << UInt64(64 - bits))
        let low: UInt64 = bits <= 64 ? 0 : (bits >= 128 ? ~0 : ~0 << UInt64(128 - bits))
        return (high, low)
    }

    /// Whether `address` is an address in the range.
    func matches(address: some StringProtocol) -> Bool {
        guard let value = Self.parse(Substring(address)), value.isV4 == first.isV4 else { return false }
        return !(value < first) && !(last < value)
    }

    /// Whether any address written in `line` is in the range.
    func matchesAny(in line: String) -> Bool {
        var current: [UInt8] = []
        func check() -> Bool {
            defer { current.removeAll(keepingCapacity: true) }
            return current.count >= 2 && matches(address: String(decoding: current, as: UTF8.self))
        }
        for byte in line.utf8 {
            let isHex = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
            if isHex || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":") {
                current.append(byte)
            } else if check() {
                return true
            }
        }
        return check()
    }

    /// Parses an IPv4 (`a.b.c.d`) or IPv6 (`x:x::x`, with an IPv4 tail) address.
    static func parse(_ text: Substring) -> Address? {
        if !text.contains(":") {
            guard let v4 = parseV4(text) else { return nil }
            return Address(high: 0, low: 0xFFFF_0000_0000 | UInt64(v4), isV4: true)
        }
        var groups: [UInt16] = []
        var tail: [UInt16] = []
        var compressed = false
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return nil }
        var index = 0
        while index < parts.count {
            let part = parts[index]
            if part.isEmpty {
                // `::` (or a leading/trailing `:` that belongs to it).
                if index + 1 < parts.count && parts[index + 1].isEmpty {
                    if compressed { return nil }
                    compressed = true
                    index += 2
                    if index == parts.count { break }
                    continue
                }
                if index == 0 || index == parts.count - 1 { return nil }
                if compressed { return nil }
                compressed = true
                index += 1
                continue
            }
            var values: [UInt16] = []
            if part.contains(".") {
                guard index == parts.count - 1, let v4 = parseV4(part) else { return nil }
                values = [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)]
            } else {
                guard part.count <= 4, let value = UInt16(part, radix: 16) else { return nil }
                values = [value]
            }
            if compressed { tail += values } else { groups += values }
            index += 1
        }
        let total = groups.count + tail.count
        guard compressed ? total < 8 : total == 8 else { return nil }
        let all = groups + [UInt16](repeating: 0, count: 8 - total) + tail
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<4 { high = high << 16 | UInt64(all[i]) }
        for i in 4..<8 { low = low << 16 | UInt64(all[i]) }
        return Address(high: high, low: low, isV4: false)
    }

    /// An IPv4 address as a 32-bit number.
    private static func parseV4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, let octet = UInt32(part), octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        return value
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    var trimmingSpaces: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !Self.isSpace($0) }),
            let last = scalars.lastIndex(where: { !Self.isSpace($0) })
        else { return "" }
        return String(scalars[first...last])
    }

    static func isSpace(_ scalar: Unicode.Scalar) -> Bool { scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" || scalar == "\u{0B}" || scalar == "\u{0C}" }
}

/// A Loki pattern (`<ip> - <_> [<ts>] "<method> <path>"`): literals and named captures, `<_>` capturing nothing.
///
/// A pattern that starts with a literal only matches lines starting with it; each capture takes the text up to the
/// next literal, and a final capture takes the rest of the line.
struct LinePattern: Sendable {
    private enum Node: Sendable {
        case literal([UInt8])
        case capture(String)
    }

    private let nodes: [Node]
    /// The capture names, without `_`.
    let names: [String]

    /// Parses a pattern.
    /// - Throws: `invalidArgument` for consecutive captures, duplicate names, or (with `requireCapture`) no capture.
    init(_ pattern: String, requireCapture: Bool) throws(SightlineError) {
        var nodes: [Node] = []
        var names: [String] = []
        var literal: [UInt8] = []
        let bytes = Array(pattern.utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "<") {
                var end = index + 1
                while end < bytes.count && LogQLLexer.isIdentifierByte(bytes[end]) { end += 1 }
                if end < bytes.count && bytes[end] == UInt8(ascii: ">") && end > index + 1 && !LogQLLexer.isDigit(bytes[index + 1]) {
                    let name = String(decoding: bytes[(index + 1)..<end], as: UTF8.self)
                    if !literal.isEmpty {
                        nodes.append(.literal(literal))
                        literal = []
                    }
                    if case .capture(let previous)? = nodes.last {
                        throw SightlineError(.invalidArgument, "found consecutive capture '<\(previous)><\(name)>'")
                    }
                    if name != "_" {
                        if names.contains(name) { throw SightlineError(.invalidArgument, "duplicate capture name (\(name)) found") }
                        names.append(name)
                    }
                    nodes.append(.capture(name))
                    index = end + 1
                    continue
                }
            }
            literal.append(bytes[index])
            index += 1
        }
        if !literal.isEmpty { nodes.append(.literal(literal)) }
        if requireCapture && names.isEmpty { throw SightlineError(.invalidArgument, "at least one capture is required") }
        if nodes.isEmpty { throw SightlineError(.invalidArgument, "syntax error: pattern is empty") }
        self.nodes = nodes
        self.names = names
    }

    /// The captured values by name, or nil when the line does not match.
    func match(_ line: String) -> [(name: String, value: String)]? {
        var line = line
        return line.withUTF8 { buffer -> [(String, String)]? in
            var out: [(String, String)] = []
            var position = 0
            var pendingCapture: String?
            for node in nodes {
                switch node {
                case .capture(let name):
                    pendingCapture = name
                case .literal(let literal):
                    if let name = pendingCapture {
                        guard let found = ByteSearch.index(of: literal, in: buffer, from: position) else { return nil }
                        if name != "_" { out.append((name, String(decoding: UnsafeBufferPointer(rebasing: buffer[position..<found]), as: UTF8.self))) }
                        position = found + literal.count
                        pendingCapture = nil
                    } else {
                        guard buffer.count - position >= literal.count,
                            Array(buffer[position..<(position + literal.count)]) == literal
                        else { return nil }
                        position += literal.count
                    }
                }
            }
            if let name = pendingCapture, name != "_" {
                out.append((name, String(decoding: UnsafeBufferPointer(rebasing: buffer[position...]), as: UTF8.self)))
            }
            return out
        }
    }
}

/// Removes ANSI colour escape sequences (`ESC [ … m` and other CSI sequences), as `| decolorize` does.
enum Decolorize {
    static func apply(_ line: String) -> String {
        let bytes = Array(line.utf8)
        guard bytes.contains(0x1B) else { return line }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x1B && index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "[") {
                var end = index + 2
                while end < bytes.count && !(bytes[end] >= 0x40 && bytes[end] <= 0x7E) { end += 1 }
                index = end + 1
                continue
            }
            out.append(bytes[index])
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
