/// The `key=value` pairs of a logfmt line as Loki's decoder reads them: keys up to `=` or a space, values bare (up to
/// a space) or double-quoted with backslash escapes (`\n`, `\t`, `\r`; any other character stands for itself). A pair
/// with a quote in its key or its bare value, an `=` in its bare value, an empty key or an unclosed quote is
/// malformed; reading goes on after its next space.
package enum LogfmtPairs {
    /// One pair: its key and its value (empty for a key without `=`).
    package struct Pair {
        package var key: String
        package var value: String
    }

    /// Calls `pair` with each well-formed pair and `malformed` with the (1-based) position where each malformed one
    /// ends, in line order; stops when either returns false.
    package static func scan(
        _ bytes: UnsafeBufferPointer<UInt8>, pair: (Pair) -> Bool, malformed: (_ position: Int) -> Bool = { _ in true }
    ) {
        var index = 0
        while index < bytes.count {
            while index < bytes.count && bytes[index] <= 0x20 { index += 1 }
            guard index < bytes.count else { return }
            let keyStart = index
            var broken = false
            while index < bytes.count && bytes[index] > 0x20 && bytes[index] != UInt8(ascii: "=") {
                if bytes[index] == UInt8(ascii: "\"") { broken = true }
                index += 1
            }
            var found = Pair(key: String(decoding: UnsafeBufferPointer(rebasing: bytes[keyStart..<index]), as: UTF8.self), value: "")
            if index < bytes.count && bytes[index] == UInt8(ascii: "=") {
                index += 1
                if index < bytes.count && bytes[index] == UInt8(ascii: "\"") {
                    index += 1
                    var out: [UInt8] = []
                    var closed = false
                    while index < bytes.count {
                        let byte = bytes[index]
                        if byte == UInt8(ascii: "\\") && index + 1 < bytes.count {
                            switch bytes[index + 1] {
                            case UInt8(ascii: "n"): out.append(0x0A)
                            case UInt8(ascii: "t"): out.append(0x09)
                            case UInt8(ascii: "r"): out.append(0x0D)
                            default: out.append(bytes[index + 1])
                            }
                            index += 2
                            continue
                        }
                        index += 1
                        if byte == UInt8(ascii: "\"") {
                            closed = true
                            break
                        }
                        out.append(byte)
                    }
                    if !closed { broken = true }
                    found.value = String(decoding: out, as: UTF8.self)
                } else {
                    let valueStart = index
                    while index < bytes.count && bytes[index] > 0x20 {
                        if bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "=") { broken = true }
                        index += 1
                    }
                    found.value = String(decoding: UnsafeBufferPointer(rebasing: bytes[valueStart..<index]), as: UTF8.self)
                }
            }
            if found.key.isEmpty { broken = true }
            if broken {
                guard malformed(index + 1) else { return }
                while index < bytes.count && bytes[index] > 0x20 { index += 1 }
                continue
            }
            guard pair(found) else { return }
        }
    }
}
