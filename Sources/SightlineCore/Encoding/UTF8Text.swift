/// Strings from bytes that must be valid UTF-8.
///
/// The standard library's `String(validating:as:)` is generic over the sequence and the encoding, and unspecialized
/// across modules it looked up type metadata on every call: about 7 % of the server's CPU on Loki pushes. Text that is
/// all ASCII (most of it) needs no validation; other text is decoded (which repairs invalid sequences) and kept only
/// if decoding changed nothing. Public only so that these are inlined into the calling modules (see ``ByteWriter``).
public enum UTF8Text {
    /// The string `bytes` spell, or nil when they are not valid UTF-8.
    @inlinable
    public static func string(validating bytes: UnsafeRawBufferPointer) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        if isASCII(bytes) { return text }
        return text.utf8.elementsEqual(bytes) ? text : nil
    }

    /// Whether `bytes` are valid UTF-8 (checked without making a string when they are ASCII).
    @inlinable
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        isASCII(bytes) || string(validating: bytes) != nil
    }

    /// ``string(validating:)`` for a typed buffer.
    @inlinable
    public static func string(validating bytes: UnsafeBufferPointer<UInt8>) -> String? {
        string(validating: UnsafeRawBufferPointer(bytes))
    }

    /// ``string(validating:)`` for an array.
    @inlinable
    public static func string(validating bytes: [UInt8]) -> String? {
        bytes.withUnsafeBytes { string(validating: $0) }
    }

    /// Whether every byte is below 0x80, checked eight at a time.
    @inlinable
    public static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var index = 0
        var high: UInt64 = 0
        while index + 8 <= bytes.count {
            high |= base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            high |= UInt64(base.load(fromByteOffset: index, as: UInt8.self))
            index += 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }
}
