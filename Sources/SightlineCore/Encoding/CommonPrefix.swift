/// How many leading bytes the `count` bytes at `a` and at `b` have in common, compared eight at a time: the first
/// differing byte is the lowest set byte of the two words' XOR (little-endian). The ranges may overlap (an LZ77
/// match extending into what it repeats). Public so that it is inlined into the calling modules (see ``ByteWriter``).
@inlinable
public func commonPrefixLength(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int) -> Int {
    var i = 0
    while i + 8 <= count {
        let difference = a.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        if difference != 0 { return i + UInt64(littleEndian: difference).trailingZeroBitCount / 8 }
        i += 8
    }
    while i < count && a.load(fromByteOffset: i, as: UInt8.self) == b.load(fromByteOffset: i, as: UInt8.self) { i += 1 }
    return i
}

/// How many leading bytes `a` and `b` have in common.
@inlinable
public func commonPrefixLength(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    guard let x = a.baseAddress, let y = b.baseAddress else { return 0 }
    return commonPrefixLength(x, y, count: min(a.count, b.count))
}
