/// Maps byte ranges of one request to values made once per distinct content: the Strings and `Label`s of a
/// remote-write request.
///
/// Remote-write requests repeat the same labels (`job="node"`, `instance="…"`) in every series; interning them
/// avoids parsing, validating and allocating them again and makes the series' `Labels` share storage.
///
/// Keys point into the request buffer, so a table must not outlive it. An open-addressing table with a seeded
/// multiply-xor hash; a key that probes too far (colliding input) is reported missing and not kept, so hostile input
/// cannot make decoding quadratic.
///
/// ```swift
/// switch table.lookup(bytes) {
/// case .found(let index): use(table[index])
/// case .missing(let slot): let value = make(bytes); table.insert(value, for: bytes, at: slot)
/// }
/// ```
struct RemoteWriteInternTable<Value> {
    private struct Key {
        var start: UnsafeRawPointer
        var count: Int
        var hash: UInt64
    }

    /// A per-process random seed.
    private static var seed: UInt64 { RemoteWriteHashSeed.value }
    /// The per-process seed of ``hash(_:_:seed:)``, for other tables of request bytes.
    static var hashSeed: UInt64 { RemoteWriteHashSeed.value }
    private static var maxProbes: Int { 16 }

    /// Slot `i` holds an index into `keys` and `values` plus one; 0 is empty.
    private var slots: [Int32]
    private var keys: [Key] = []
    private var values: [Value] = []
    private var mask: Int
    private let seed = Self.seed

    /// An empty table sized for about `capacity` distinct keys.
    init(capacity: Int = 256) {
        var size = 16
        while size < capacity * 2 { size *= 2 }
        slots = [Int32](repeating: 0, count: size)
        mask = size - 1
        keys.reserveCapacity(capacity)
        values.reserveCapacity(capacity)
    }

    /// Where a missing key goes, from ``lookup(_:)``, for ``insert(_:for:at:)``.
    struct Slot {
        fileprivate var index: Int
        fileprivate var hash: UInt64
    }

    /// What ``lookup(_:)`` found.
    enum Lookup {
        /// The key is there: its index for ``subscript(_:)``.
        case found(Int)
        /// The key is missing; insert its value at the slot.
        case missing(Slot)
    }

    /// Looks up the content of `bytes`.
    /// - Parameter bytes: The key, a range of the request buffer that stays valid as long as the table.
    @inline(__always)
    func lookup(_ bytes: UnsafeRawBufferPointer) -> Lookup {
        guard let start = bytes.baseAddress, bytes.count > 0 else { return .missing(Slot(index: -1, hash: 0)) }
        let count = bytes.count
        let hash = Self.hash(start, count, seed: seed)
        var slot = Int(truncatingIfNeeded: hash) & mask
        var probes = 0
        while true {
            let index = Int(slots[slot])
            if index == 0 { return .missing(Slot(index: slot, hash: hash)) }
            let key = keys[index - 1]
            if key.hash == hash, key.count == count, key.start == start || memoryEqual(key.start, start, count) {
                return .found(index - 1)
            }
            probes += 1
            // Too many collisions: do not intern this key.
            if probes == Self.maxProbes { return .missing(Slot(index: -1, hash: hash)) }
            slot = (slot + 1) & mask
        }
    }

    /// The value at an index ``lookup(_:)`` or ``insert(_:for:at:)`` returned.
    subscript(index: Int) -> Value { values[index] }

    /// Keeps `value` for the key `bytes` that ``lookup(_:)`` just reported missing at `slot`.
    /// - Returns: The value's index, or nil when the key is not kept (empty, or too many collisions).
    @discardableResult @inline(__always)
    mutating func insert(_ value: Value, for bytes: UnsafeRawBufferPointer, at slot: Slot) -> Int? {
        guard slot.index >= 0, let start = bytes.baseAddress else { return nil }
        keys.append(Key(start: start, count: bytes.count, hash: slot.hash))
        values.append(value)
        slots[slot.index] = Int32(truncatingIfNeeded: keys.count)
        if keys.count * 2 > slots.count { grow() }
        return keys.count - 1
    }

    private mutating func grow() {
        let size = slots.count * 2
        mask = size - 1
        slots = [Int32](repeating: 0, count: size)
        for (index, key) in keys.enumerated() {
            var slot = Int(truncatingIfNeeded: key.hash) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(truncatingIfNeeded: index + 1)
        }
    }

    @inline(__always)
    private func memoryEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        var i = 0
        while i + 8 <= count {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
                return false
            }
            i += 8
        }
        while i < count {
            if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
            i += 1
        }
        return true
    }

    /// A fast 64-bit hash of `count` bytes at `start`: 8 bytes per multiply, the tail folded in last.
    @inline(__always)
    static func hash(_ start: UnsafeRawPointer, _ count: Int, seed: UInt64) -> UInt64 {
        var h = seed ^ (UInt64(truncatingIfNeeded: count) &* 0x9E37_79B9_7F4A_7C15)
        var i = 0
        while i + 8 <= count {
            let word = UInt64(littleEndian: start.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            h = (h ^ word) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            i += 8
        }
        if i < count && count >= 8 {
            // The last 8 bytes, overlapping the words already mixed.
            let word = UInt64(littleEndian: start.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self))
            h = (h ^ word) &* 0xC4CE_B9FE_1A85_EC53
        } else if i < count {
            var word: UInt64 = 0
            var shift: UInt64 = 0
            while i < count {
                word |= UInt64(start.load(fromByteOffset: i, as: UInt8.self)) << shift
                shift += 8
                i += 1
            }
            h = (h ^ word) &* 0xC4CE_B9FE_1A85_EC53
        }
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 29
        return h
    }
}

/// The seed of ``RemoteWriteInternTable``'s hash: random per process, from the standard library's seeded `Hasher`.
private enum RemoteWriteHashSeed {
    static let value: UInt64 = {
        var hasher = Hasher()
        hasher.combine(0x5157_4C49_4E45 as UInt64)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }()
}
