import SightlineCore
import Testing

struct PercentEncodingTests {
    @Test func unreservedBytesStayAndOthersAreEscapedInUpperCaseHex() {
        #expect(PercentEncoding.encode("AZaz09-_.~") == "AZaz09-_.~")
        #expect(PercentEncoding.encode("a b/c?d=e&f") == "a%20b%2Fc%3Fd%3De%26f")
        #expect(PercentEncoding.encode("\u{1}\n") == "%01%0A")
        #expect(PercentEncoding.encode("é€") == "%C3%A9%E2%82%AC")
    }

    @Test func spaceAsPlusIsGoQueryEscape() {
        #expect(PercentEncoding.encode("rate(x[5m]) > 1", spaceAsPlus: true) == "rate%28x%5B5m%5D%29+%3E+1")
        #expect(PercentEncoding.encode("a+b", spaceAsPlus: true) == "a%2Bb")
    }
}
