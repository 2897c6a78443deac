import Synchronization

/// Block identifiers: ULID-like, 26 characters of Crockford base32.
///
/// The first 10 characters encode the creation time in ms (48 bits), the last 16 carry 80 random bits,
/// so ids sort by creation time and two writers never pick the same one.
enum BlockID {
    /// Crockford's base32 alphabet (no I, L, O, U).
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    /// How many characters an id has.
    static let length = 26

    /// The last id ``generate(nowMs:)`` returned in this process.
    private static let last = Mutex("")

    /// A new id for a block created at `nowMs` (ms since the epoch), greater than every id this process generated
    /// before: within one process, ids sort by creation order even within one ms (as ULID's monotonic mode).
    static func generate(nowMs: Int64) -> String {
        var generator = SystemRandomNumberGenerator()
        let fresh = generate(nowMs: nowMs, using: &generator)
        return last.withLock { last in
            last = fresh > last ? fresh : successor(last)
            return last
        }
    }

    /// The id one greater than `id` (base32 increment; wraps only past `ZZZ…Z`, which is 10 889 years away).
    static func successor(_ id: String) -> String {
        var digits = Array(id.utf8)
        var i = digits.count - 1
        while i >= 0 {
            guard let value = alphabet.firstIndex(of: digits[i]) else { return id }
            if value < 31 {
                digits[i] = alphabet[value + 1]
                break
            }
            digits[i] = alphabet[0]
            i -= 1
        }
        return String(decoding: digits, as: UTF8.self)
    }

    /// A new id for a block created at `nowMs`, with randomness from `generator`.
    static func generate(nowMs: Int64, using generator: inout some RandomNumberGenerator) -> String {
        var out = [UInt8](repeating: 0, count: length)
        var time = UInt64(max(0, nowMs)) & 0xFFFF_FFFF_FFFF
        for i in stride(from: 9, through: 0, by: -1) {
            out[i] = alphabet[Int(time & 31)]
            time >>= 5
        }
        for i in 10..<length { out[i] = alphabet[Int(generator.next() & 31)] }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `name` has the shape of a block id (26 characters from the alphabet).
    static func isValid(_ name: String) -> Bool {
        let utf8 = name.utf8
        return utf8.count == length && utf8.allSatisfy { alphabet.contains($0) }
    }
}
