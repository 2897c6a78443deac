/// A set of series refs `0..<count` as a bitmap: what matchers select in one block's index.
struct SeriesSet: Sendable, Equatable {
    /// One bit per series, 64 to a word.
    private(set) var words: [UInt64]
    /// The number of series the set ranges over.
    let count: Int

    /// The empty set (`full == false`) or the set of all series (`full == true`) of a block with `count` series.
    init(count: Int, full: Bool) {
        self.count = count
        words = [UInt64](repeating: full ? ~0 : 0, count: (count + 63) / 64)
        clearTail()
    }

    /// Adds series `ref` (which must be below `count`).
    mutating func insert(_ ref: Int) {
        words[ref >> 6] |= 1 << UInt64(ref & 63)
    }

    /// Whether series `ref` is in the set.
    func contains(_ ref: Int) -> Bool {
        ref >= 0 && ref < count && words[ref >> 6] & (1 << UInt64(ref & 63)) != 0
    }

    /// Keeps only the series also in `other`.
    mutating func formIntersection(_ other: SeriesSet) {
        for i in words.indices { words[i] &= other.words[i] }
    }

    /// Replaces the set with its complement in `0..<count`.
    mutating func invert() {
        for i in words.indices { words[i] = ~words[i] }
        clearTail()
    }

    /// Whether no series is in the set.
    var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    /// The series in the set, ascending.
    var members: [Int] {
        var result: [Int] = []
        for (i, word) in words.enumerated() {
            var w = word
            while w != 0 {
                result.append(i * 64 + w.trailingZeroBitCount)
                w &= w - 1
            }
        }
        return result
    }

    /// Clears the bits past `count` in the last word.
    private mutating func clearTail() {
        let used = count & 63
        if used != 0, !words.isEmpty { words[words.count - 1] &= (1 << UInt64(used)) - 1 }
    }
}
