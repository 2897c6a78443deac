import SightlineCore

extension ByteReader {
    /// Reads a varint that must fit in `Int` and be below `limit`.
    mutating func readIndex(below limit: Int, _ what: String) throws -> Int {
        let value = try readVarint()
        guard value < UInt64(limit) else { throw SightlineError(.dataCorrupted, "\(what) \(value) is out of range (\(limit) entries)") }
        return Int(value)
    }
}
