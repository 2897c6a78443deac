import Testing

@testable import SightlineCore

struct JSONTextTests {
    /// Plain JSON escapes quotes, backslashes and control characters; HTML-safe JSON, as Go writes it, also `<`, `>`,
    /// `&`, U+2028 and U+2029.
    @Test func stringsPlainAndHTMLSafe() {
        let text = "a\"b\\c\nd\u{1}<_>&\u{2028}\u{7F}é"
        #expect(JSONText.quoted(text) == "\"a\\\"b\\\\c\\nd\\u0001<_>&\u{2028}\u{7F}é\"")
        #expect(JSONText.quoted(text, htmlSafe: true) == "\"a\\\"b\\\\c\\nd\\u0001\\u003c_\\u003e\\u0026\\u2028\u{7F}é\"")
        #expect(JSONText.quoted("plain", htmlSafe: true) == "\"plain\"")
    }
}
