import Testing

@testable import SightlineCore

struct UTF8TextTests {
    @Test func acceptsExactlyWhatTheStandardLibraryValidates() {
        let cases: [[UInt8]] = [
            [], Array("plain ascii, longer than eight bytes".utf8), Array("é ü 漢字 🙂".utf8), Array("x\u{0}y".utf8),
            [0xFF], [0x80], [0xC3], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF],
            Array("valid then ".utf8) + [0xE2, 0x82], Array("twelve bytes".utf8) + [0xFE] + Array("more text!".utf8),
        ]
        var generator = SystemRandomNumberGenerator()
        var random: [[UInt8]] = []
        for _ in 0..<2000 {
            let count = Int.random(in: 0..<24, using: &generator)
            // Mostly ASCII with some high bytes, so valid multi-byte sequences occur too.
            random.append((0..<count).map { _ in
                Bool.random(using: &generator) ? UInt8.random(in: 0x20..<0x7F, using: &generator) : UInt8.random(in: 0x80...0xF5, using: &generator)
            })
        }
        random += (0..<200).map { _ in Array(String((0..<8).map { _ in Character(Unicode.Scalar(UInt32.random(in: 0xA0..<0xD7FF))!) }).utf8) }
        for bytes in cases + random {
            let expected = String(validating: bytes, as: UTF8.self)
            #expect(UTF8Text.string(validating: bytes) == expected, "\(bytes)")
        }
    }

    @Test func asciiIsCheckedAtEveryLengthAndOffset() {
        for length in 0..<20 {
            var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
            #expect(bytes.withUnsafeBytes { UTF8Text.isASCII($0) })
            for index in 0..<length {
                bytes[index] = 0x80
                #expect(!bytes.withUnsafeBytes { UTF8Text.isASCII($0) })
                bytes[index] = UInt8(ascii: "a")
            }
        }
    }
}
