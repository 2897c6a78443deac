/// A 16-byte trace id. All zero means "no trace".
package struct TraceID: Hashable, Sendable, Comparable, CustomStringConvertible {
    package var high: UInt64
    package var low: UInt64

    package init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Reads 16 big-endian bytes; `nil` for any other length.
    package init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var value = (UInt64(0), UInt64(0))
        for (index, byte) in bytes.enumerated() {
            if index < 8 { value.0 = value.0 << 8 | UInt64(byte) } else { value.1 = value.1 << 8 | UInt64(byte) }
        }
        self.init(high: value.0, low: value.1)
    }

    /// Parses 32 hex digits; `nil` otherwise.
    package init?(hex: some StringProtocol) {
        guard hex.utf8.count == 32, let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes: bytes)
    }

    package var isZero: Bool { high == 0 && low == 0 }
    package var bytes: [UInt8] { BigEndian.bytes(high) + BigEndian.bytes(low) }
    package var description: String { Hex.encode(bytes) }

    package static func < (lhs: TraceID, rhs: TraceID) -> Bool { (lhs.high, lhs.low) < (rhs.high, rhs.low) }
}

/// An 8-byte span id. Zero means "no span".
package struct SpanID: Hashable, Sendable, Comparable, CustomStringConvertible {
    package var value: UInt64

    package init(_ value: UInt64) { self.value = value }

    /// Reads 8 big-endian bytes; `nil` for any other length.
    package init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 8 else { return nil }
        self.init(bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    /// Parses 16 hex digits; `nil` otherwise.
    package init?(hex: some StringProtocol) {
        guard hex.utf8.count == 16, let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes: bytes)
    }

    package var isZero: Bool { value == 0 }
    package var bytes: [UInt8] { BigEndian.bytes(value) }
    package var description: String { Hex.encode(bytes) }

    package static func < (lhs: SpanID, rhs: SpanID) -> Bool { lhs.value < rhs.value }
}
