import Testing

@testable import SightlineCore

/// Assembles a TZif file: a version 1 file with 32-bit times, or version 2 with an empty 32-bit block, the 64-bit
/// block and a footer.
private func tzif(version: UInt8, transitions: [(Int64, UInt8)], kinds: [(Int32, Bool, String)], footer: String = "") -> [UInt8] {
    var characters: [UInt8] = []
    var kindBytes: [UInt8] = []
    for (offset, isDaylight, abbreviation) in kinds {
        kindBytes += withUnsafeBytes(of: offset.bigEndian, Array.init)
        kindBytes.append(isDaylight ? 1 : 0)
        kindBytes.append(UInt8(characters.count))
        characters += Array(abbreviation.utf8) + [0]
    }
    func header(timeCount: Int, typeCount: Int, charCount: Int) -> [UInt8] {
        var out = Array("TZif".utf8) + [version] + [UInt8](repeating: 0, count: 15)
        for count in [0, 0, 0, timeCount, typeCount, charCount] { out += withUnsafeBytes(of: Int32(count).bigEndian, Array.init) }
        return out
    }
    func block(timeSize: Int) -> [UInt8] {
        var out = header(timeCount: transitions.count, typeCount: kinds.count, charCount: characters.count)
        for (time, _) in transitions {
            out += timeSize == 8 ? withUnsafeBytes(of: time.bigEndian, Array.init) : withUnsafeBytes(of: Int32(time).bigEndian, Array.init)
        }
        out += transitions.map(\.1) + kindBytes + characters
        return out
    }
    if version == 0 { return block(timeSize: 4) }
    // The 32-bit block may be empty but must declare one type.
    var out = header(timeCount: 0, typeCount: 1, charCount: 4) + [0, 0, 0, 0, 0, 0] + Array("UTC\0".utf8)
    out += block(timeSize: 8)
    return out + Array("\n\(footer)\n".utf8)
}

@Suite struct ZoneInfoTests {
    // Central European: CET +1 and CEST +2, changing on the last Sundays of March (01:00 UTC) and October.
    let paris = tzif(
        version: 0x32,
        transitions: [(1_711_846_800, 1), (1_729_990_800, 0)],  // 2024-03-31T01:00Z, 2024-10-27T01:00Z
        kinds: [(3600, false, "CET"), (7200, true, "CEST")],
        footer: "CET-1CEST,M3.5.0,M10.5.0/3")

    @Test func readsTransitionsAndTheFooterRule() throws {
        let zone = try ZoneInfo(name: "Europe/Paris", tzif: paris)
        #expect(zone.kind(atSecond: 0).abbreviation == "CET")  // before the first transition: the first type
        #expect(zone.kind(atSecond: 1_711_846_799) == ZoneInfo.Kind(offset: 3600, isDaylight: false, abbreviation: "CET"))
        #expect(zone.kind(atSecond: 1_711_846_800) == ZoneInfo.Kind(offset: 7200, isDaylight: true, abbreviation: "CEST"))
        #expect(zone.kind(atSecond: 1_729_990_799).abbreviation == "CEST")
        // From the last transition on, the footer rule: 2026-03-29T01:00Z and 2026-10-25T01:00Z.
        #expect(zone.kind(atSecond: 1_774_745_999).abbreviation == "CET")
        #expect(zone.kind(atSecond: 1_774_746_000).abbreviation == "CEST")
        #expect(zone.kind(atSecond: 1_792_889_999).offset == 7200)
        #expect(zone.kind(atSecond: 1_792_890_000).offset == 3600)
    }

    @Test func readsVersionOneFiles() throws {
        let zone = try ZoneInfo(name: "Fixed", tzif: tzif(version: 0, transitions: [(1000, 1)], kinds: [(0, false, "LMT"), (-18000, false, "EST")]))
        #expect(zone.kind(atSecond: 999).abbreviation == "LMT")
        #expect(zone.kind(atSecond: 1000) == ZoneInfo.Kind(offset: -18000, isDaylight: false, abbreviation: "EST"))
        #expect(zone.kind(atSecond: 4_000_000_000).abbreviation == "EST")  // no footer: the last type holds
    }

    @Test(arguments: [
        ([UInt8](), "zone file cut short"),
        (Array("TZjf".utf8) + [UInt8](repeating: 0, count: 40), "not a TZif zone file"),
        (Array("TZif2".utf8) + [UInt8](repeating: 0, count: 10), "zone file cut short"),
    ])
    func refusesWhatIsNotAZoneFile(bytes: [UInt8], message: String) {
        #expect(throws: ZoneInfoError.self) { _ = try ZoneInfo(name: "x", tzif: bytes) }
        do { _ = try ZoneInfo(name: "x", tzif: bytes) } catch { #expect(error.message == message) }
    }

    @Test func cutFilesFailInsteadOfTrapping() {
        for length in 0..<paris.count - 1 {
            _ = try? ZoneInfo(name: "cut", tzif: Array(paris.prefix(length)))
        }
        #expect(throws: ZoneInfoError.self) { _ = try ZoneInfo(name: "cut", tzif: Array(paris.prefix(60))) }
    }

    @Test func posixRules() throws {
        // US Eastern: second Sunday of March 02:00 EST (07:00Z) to first Sunday of November 02:00 EDT (06:00Z).
        let eastern = try #require(ZoneRule(posix: "EST5EDT,M3.2.0,M11.1.0"))
        #expect(eastern.kind(atSecond: 1_772_953_199).abbreviation == "EST")  // 2026-03-08T06:59:59Z
        #expect(eastern.kind(atSecond: 1_772_953_200) == ZoneInfo.Kind(offset: -14400, isDaylight: true, abbreviation: "EDT"))
        #expect(eastern.kind(atSecond: 1_793_512_799).abbreviation == "EDT")  // 2026-11-01T05:59:59Z
        #expect(eastern.kind(atSecond: 1_793_512_800).abbreviation == "EST")
        // Southern hemisphere: daylight time spans the new year.
        let sydney = try #require(ZoneRule(posix: "AEST-10AEDT,M10.1.0,M4.1.0/3"))
        #expect(sydney.kind(atSecond: 1_767_225_600).abbreviation == "AEDT")  // 2026-01-01
        #expect(sydney.kind(atSecond: 1_781_222_400).abbreviation == "AEST")  // 2026-06-12
        #expect(sydney.kind(atSecond: 1_767_225_600).offset == 39600)
        // No daylight time; a quoted numeric name and a half-hour offset.
        let kathmandu = try #require(ZoneRule(posix: "<+0545>-5:45"))
        #expect(kathmandu.kind(atSecond: 0) == ZoneInfo.Kind(offset: 20700, isDaylight: false, abbreviation: "+0545"))
        // Julian days: J60 is March 1 in every year.
        #expect(ZoneRule.midnight(of: .julian(60), year: 2024) == 1_709_251_200)  // 2024-03-01
        #expect(ZoneRule.midnight(of: .zeroBased(59), year: 2024) == 1_709_164_800)  // 2024-02-29
        #expect(ZoneRule.midnight(of: .monthWeek(month: 2, week: 5, weekday: 4), year: 2024) == 1_709_164_800)  // last Thursday
    }

    @Test(arguments: ["", "E5", "EST", "EST5EDT,M3.2.0", "EST5EDT,M13.2.0,M11.1.0", "EST5EDT,J0,J100", "EST5EDT,M3.2.0,M11.1.0x", "<+05"])
    func refusesMalformedPosixRules(text: String) {
        #expect(ZoneRule(posix: text) == nil)
    }
}
