import SightlineCore
import Testing

@testable import SightlineIngest

struct KeyNumbersByPlaceTests {
    /// A key repeated at its place keeps its number; a different key there (longer, shorter, empty, from a string)
    /// gets its own, the same one the batch gives its text.
    @Test func keysAreNumberedAsTheBatchNumbersTheirText() {
        var batch = LogBatch()
        var keys = KeyNumbersByPlace()
        let records = [["level", "host"], ["level", "host"], ["lvl", "host.name", ""], ["level"], ["level", "host", "x"]]
        for record in records {
            for (place, key) in record.enumerated() {
                let number = Array(key.utf8).withUnsafeBytes { keys.number($0, at: place, in: &batch) }
                #expect(batch.strings[Int(number)] == key)
                #expect(keys.number(key, at: place, in: &batch) == number)
            }
        }
        #expect(Set(batch.strings).isSuperset(of: ["level", "host", "lvl", "host.name", "", "x"]))
    }
}
