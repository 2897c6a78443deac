/// Reads one JSON string out of bytes: escapes undone, `\uXXXX` pairs of UTF-16 surrogates joined into one character
/// (a lone surrogate becomes U+FFFD).
package enum JSONStringDecoding {
    package enum Failure: Error {
        /// The string does not close.
        case unterminated
        /// A `\u` without four hex digits.
        case invalidUnicodeEscape
    }

    /// The string whose opening quote is at `position`; `position` ends past its closing quote, or where reading failed.
    package static func read(_ bytes: UnsafeBufferPointer<UInt8>, at position: inout Int) throws(Failure) -> String {
        position += 1
        var out: [UInt8] = []
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return String(decoding: out, as: UTF8.self)
            }
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                position += 1
                continue
            }
            guard position + 1 < bytes.count else { break }
            let escape = bytes[position + 1]
            position += 2
            switch escape {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                var scalar = try hex4(bytes, at: &position)
                if (0xD800..<0xDC00).contains(scalar), position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u")
                {
                    position += 2
                    let low = try hex4(bytes, at: &position)
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) &+ (low &- 0xDC00)
                }
                out.append(contentsOf: String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8)
            default: out.append(escape)
            }
        }
        throw .unterminated
    }

    private static func hex4(_ bytes: UnsafeBufferPointer<UInt8>, at position: inout Int) throws(Failure) -> UInt32 {
        guard bytes.count - position >= 4,
            let value = UInt32(String(decoding: UnsafeBufferPointer(rebasing: bytes[position..<(position + 4)]), as: UTF8.self), radix: 16)
        else { throw .invalidUnicodeEscape }
        position += 4
        return value
    }
}
