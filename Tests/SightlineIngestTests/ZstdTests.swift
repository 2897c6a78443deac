import Foundation
import SightlineCore
import Testing

@testable import SightlineIngest

/// Zstandard frames made by the reference `zstd` tool (1.5) from a text both sides generate, and malformed frames.
struct ZstdTests {
    /// 150 lines of exposition text, as the frames below were made from.
    private let text: [UInt8] = Array(
        (0..<150).map { i in
            "cpu_seconds_total{host=\"web-\(i % 7)\",mode=\"\(["user", "system", "idle", "iowait"][i % 4])\"} \((i * 7919) % 10007).\(i % 10)\n"
        }.joined().utf8)

    /// `zstd -19`: Huffman-coded literals and FSE-described sequence tables, a content checksum.
    private let best = Self.bytes([
        "KLUv/QRohRcAukO8CBuATbkBQCjEZ+ghDj/AwBonu7t3SpnkSBKIqwOhAHkAegAh5WOdXI1W0ygS0YkoUzNDi5UI43c/27DNu5CWZaUITtnoSP",
        "Mxioil6I+cGCby0KKswrOKs8pM5tDJlJ8oCVZ6P9qujdG/RbtPEMmkaCg1N8IZqpyX+sMCAxIabvY2ASosMDBIsMDl9aoBw4PDBIcCCEaACgsQ",
        "GBwiLBBgSNDQQMBCDDjAIGGBwINDgwIKDAw8NDwUcEjgoAEBg0OBCA8QBPyDyFjXpuiwEOPsD60uFhIJ9ZQZC3NOVN7lCbYmcrwzurHszEWjaI",
        "k0fQxFPCT0X3OG5cRsTF+ezR2soulxqCqMHzsqyq9DtENkGC1daFfzeeWaRXeUMyIUvAzNsScTo1svRphNNDPpkOoohEJxdI60Y/6+lPXnwQti",
        "rCF5caTIxN+sQ+mF0BGnMy5mTKuWlES+B0teH+fyGu+ZKLZURLyjm2FYVYRG9p80NzZFwlqOG8HXpmPjMsazkxSrxE60GQ9JyBXKS+K0jciMnk",
        "3ZOwlexX8s6tg442rx8guiWEpDdz7CCBo5zahuUtW5rLE2OHKPCwCObs/GX9tizQ/i0YeGNVIjHJmTk0y9Ka27dNg0GGcVR6s7Mt6EiyUV4tw0",
        "vG9CCenpE5thI6URUZCm7Fi3G8dnF9+YEhutGJ71SBjlzmnzi0ki81I+5aBN1+OjauzVi1c2xKKrocmF9Nqn2FLTPUUZIUbBmszxaByBIKgR4I",
        "UE8a39DIFfGtYiCIxAEDhPgCf4EXp5eSBK8MjpMYNSdkN4CEqwk4DWoeCsUC/CJRwfmP8yaA3BHVLXGHBRzL2BBxqWf0Ma9om9wofP0fygnzHE",
        "lQ9u5j3Qlfwb0rBP7BU+fI7mB/2MIa58cDMv6Ao+PjA/6Jgn9pLk42aETv/oShM3flgndgofPhg/9IJ7Yj6Njld0eJaqrH6hV/jwwfgxmGqnQ0",
        "llAQBCbBkk/IutAZFpAvP4VwEqTH0B",
    ])
    /// `zstd -1 --no-check`: the fast strategy, no checksum.
    private let fast = Self.bytes([
        "KLUv/QBIfR0A9rd6GmBPig3LCCprZQVkBUHqSCt7p5TiDZoCoOBOjQBpAGkAnLZyHHNS7FgzQtarItPJ/96kprtkWlWSGzseZ2Mxu1aF6jhRTG",
        "Mf4Xn4kLbsydCmyR2mKam7FcmNDroQFW/xzQEZDQoGAwsIV+ijgIyGQkMCQykHDwvIaDgoUExcTBBgZAIyGhIKExUNAoUECAeBxgwcKFg0CCgm",
        "IBYwGgwoICgKJhIeIBAUJgoqIhACPrE7rjUk0fNSXWobWaY/XuEQfeSOmBXxECqzOTHdUSb3QWrnJxmyfLmD18PKipU7FKK/RnwqOoSue2k2mb",
        "m25O7OsqPm8pqjLHSSKnZ9CmvyMe8hdvzgyRlxTKrKVXIyIpL+7JfxcdjCVDmjnVLVwzfrmyUaE7KsSo6jDjp7nW0pOqiVf47lsK3x6eQ4103M",
        "fibqq7R92quqDI+j4zZ2kXpCVKOJ72N6Fsk0RbfclblSZkfpyB+eQ+ypOmF5NP3R2vxeql60nOjGVbUS7z/kOK4CAIeUPHyQvPook9HtdFSLp7",
        "lzdJzNIWfHUTSl8y8ht0zi+jrn8c7R66qKRors7nOPlkMs4dCG5DgeZSWR/Z9Muck60tbBMc5hLpPDjqjE6rDfZtueldI1lJlf3amop7rpVi2x",
        "78iZcR1DAYFgqMFkI03gWmnf8cZIMFLBBxKYBmYRgmkEJ/yILyi8555He9Ie528O7fk8gvbJWA03DJHIME0k0uxamY1jM4/oG9NDT6IS1CeRgq",
        "SD0FHgR6pA68oR/awNiWy+hkRaeKjaMCSaIxcSmfkNiWTy1lina4VEqYtGEBLdEDqyBc33iGxUqUQ9V1MiLTw01Tg9M4lSMg3sJTpJ+xIpSRpo",
        "HgVY8hp0ryUq5H2biBHLTcTa4HcmMVGOaUzEpi8m6kF7Azq9m02UhEgPv4myV56sQ/PNJTIIdRN1Rr2JVDt4ynF65hKlZBrYTXSS9iZSkjTQPA",
        "qw5DXoXk1UyPs+ESOWn4i1we9McqIc05xI2aaVcqI9bAd6NieS4ZwTwcKxeePkkU10EPcnksD2Ey1u+NxC88kmSoj9iSxi/UQdFw9+mhOVkc6J",
        "wHrkRNxAqV0OHf03J9LCQ+1CxFZF90lOUEPbgjk0fyYBLldqByK2KrpPoqAObYl1KH/mBVFeXB2Uriq0T7JgebmVUipLj9mLtgtRew0N+u9J0I",
        "+qFJbeceX0SRSsYSuLvbXedFvNaKqcna5rVnvQRShj+sFi4THG7GMwYGL1Kg==",
    ])

    private static func bytes(_ base64: [String]) -> [UInt8] { [UInt8](Data(base64Encoded: base64.joined())!) }

    private func decompress(_ frame: [UInt8], limit: Int = 1 << 20) throws -> [UInt8] {
        try frame.withUnsafeBytes { try Zstd.decompress($0, maxOutput: limit) }
    }

    private func failure(_ frame: [UInt8], limit: Int = 1 << 20) -> String {
        do {
            _ = try decompress(frame, limit: limit)
            return "decoded"
        } catch {
            return "\(error)"
        }
    }

    private func hex(_ text: String) -> [UInt8] {
        stride(from: 0, to: text.count, by: 2).map { UInt8(text.dropFirst($0).prefix(2), radix: 16)! }
    }

    @Test func framesOfTheReferenceToolDecode() throws {
        #expect(text.count == 7782)
        #expect(try decompress(best) == text)
        #expect(try decompress(fast) == text)
        #expect(try decompress(hex("28b52ffd045829000068656c6c6fa36d9f88")) == Array("hello".utf8))
        // 5,000 zeros: one RLE block.
        #expect(try decompress(hex("28b52ffd04684500000800010084d3032125b73230")) == [UInt8](repeating: 0, count: 5000))
        // An empty frame, with the checksum of nothing.
        #expect(try decompress(hex("28b52ffd240001000099e9d851")) == [])
    }

    @Test func framesAndSkippableFramesConcatenate() throws {
        let skippable: [UInt8] = [0x5E, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 9, 9, 9]
        #expect(try decompress(fast + skippable + best) == text + text)
        #expect(try decompress(skippable + hex("28b52ffd045829000068656c6c6fa36d9f88")) == Array("hello".utf8))
    }

    @Test func xxHash64MatchesItsKnownValues() {
        #expect(XXHash64.hash([UInt8]()) == 0xEF46_DB37_51D8_E999)
    }

    @Test func malformedFramesAreNamed() {
        var checksum = best
        checksum[checksum.count - 1] ^= 1
        #expect(failure(checksum).contains("content checksum mismatch"))
        #expect(failure(Array(best.dropLast(20))).contains("invalid zstd data"))
        #expect(failure([]).contains("empty input"))
        #expect(failure([1, 2, 3, 4, 5]).contains("unknown frame magic number 0x4030201"))
        #expect(failure([0x28, 0xB5, 0x2F]).contains("after the last frame"))
        // A frame that needs dictionary 7.
        #expect(failure(hex("28b52ffd210700")).contains("needs dictionary 7"))
        // The reserved bit of the frame header.
        #expect(failure(hex("28b52ffd2800")).contains("reserved bit"))
        // A frame whose declared size is not what its blocks hold ("hello" declared as 6 bytes).
        #expect(failure(hex("28b52ffd20062900006865 6c6c6f".replacingOccurrences(of: " ", with: ""))).contains("declares 6 bytes but holds 5"))
        // A reserved block type.
        #expect(failure(hex("28b52ffd2000070000")).contains("reserved block type"))
    }

    @Test func theOutputLimitHolds() {
        let limited = failure(best, limit: 1000)
        #expect(limited.contains("more than the limit of 1000"), "\(limited)")
        do {
            _ = try decompress(hex("28b52ffd04684500000800010084d3032125b73230"), limit: 4999)
            Issue.record("5,000 zeros decoded under a limit of 4,999")
        } catch let error as SightlineError {
            #expect(error.code == .tooLarge)
        } catch {
            Issue.record("\(error)")
        }
    }
}
