package import SightlineCore

/// ClickHouse's RowBinary format is ByteWriter's encoding for the types Sightline uses: little-endian integers and
/// floats, and strings and arrays prefixed by an LEB128 length. These add the few widths ByteWriter lacks.
extension ByteWriter {
    package mutating func writeUInt16LE(_ value: UInt16) {
        writeByte(UInt8(truncatingIfNeeded: value))
        writeByte(UInt8(truncatingIfNeeded: value >> 8))
    }

    package mutating func writeInt64LE(_ value: Int64) { writeUInt64LE(UInt64(bitPattern: value)) }

    /// `Array(String)`.
    package mutating func writeStringArray(_ values: some Collection<String>) {
        writeVarint(UInt64(values.count))
        for value in values { writeString(value) }
    }

    /// `DateTime`: seconds since the epoch, as UInt32.
    package mutating func writeDateTime(seconds: Int64) {
        writeUInt32LE(UInt32(clamping: max(0, seconds)))
    }

    /// `Date`: days since the epoch, as UInt16.
    package mutating func writeDate(days: Int64) {
        writeUInt16LE(UInt16(clamping: max(0, days)))
    }
}

extension ByteReader {
    package mutating func readUInt16LE() throws -> UInt16 {
        let low = UInt16(try readByte())
        return low | UInt16(try readByte()) << 8
    }

    package mutating func readInt64LE() throws -> Int64 { Int64(bitPattern: try readUInt64LE()) }

    /// `Array(String)`.
    package mutating func readStringArray() throws -> [String] {
        let count = try readCount()
        var values: [String] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try readString()) }
        return values
    }
}

/// Decodes a `FORMAT RowBinary` answer row by row: `decode` reads one row's columns in the SELECT's order.
package func decodeRowBinary<Row>(_ bytes: [UInt8], _ decode: (inout ByteReader) throws -> Row) throws -> [Row] {
    try bytes.withUnsafeBytes { raw in
        var reader = ByteReader(raw)
        var rows: [Row] = []
        while !reader.isAtEnd { rows.append(try decode(&reader)) }
        return rows
    }
}
