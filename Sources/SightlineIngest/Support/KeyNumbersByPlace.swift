#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SightlineCore

/// A log batch's numbers of attribute keys, remembered by their place in the record: records of one request mostly
/// repeat their keys in the same order (a shipper's fields, an entry's structured metadata), so a key is compared
/// with the one at its place in an earlier record and made into a string and looked up only when it differs.
struct KeyNumbersByPlace {
    /// The key last seen at each place, and its number.
    private var keys: [(key: [UInt8], number: UInt32)] = []

    /// The number in `batch` of `key` (valid UTF-8), the key at `place` of its record (places start at 0 and come
    /// in order).
    mutating func number(_ key: UnsafeRawBufferPointer, at place: Int, in batch: inout LogBatch) -> UInt32 {
        if place < keys.count {
            let known = keys[place].key.withUnsafeBytes { known in
                known.count == key.count && (key.isEmpty || memcmp(known.baseAddress!, key.baseAddress!, key.count) == 0)
            }
            if known { return keys[place].number }
        }
        let number = batch.number(string: String(decoding: key, as: UTF8.self))
        if place < keys.count {
            // The place's array is reused: a key that changes from record to record allocates nothing here.
            keys[place].key.removeAll(keepingCapacity: true)
            key.withMemoryRebound(to: UInt8.self) { keys[place].key.append(contentsOf: $0) }
            keys[place].number = number
        } else {
            keys.append((key.withMemoryRebound(to: UInt8.self) { Array($0) }, number))
        }
        return number
    }

    /// ``number(_:at:in:)`` for a key held as a string.
    mutating func number(_ key: String, at place: Int, in batch: inout LogBatch) -> UInt32 {
        var key = key
        return key.withUTF8 { number(UnsafeRawBufferPointer($0), at: place, in: &batch) }
    }
}
