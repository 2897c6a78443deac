/// Numbers distinct values in the order they are first seen. Log blocks and batches have few attribute keys, shapes
/// and severity texts, so up to 16 values are found by comparing with each (short strings compare in place), which
/// beats hashing; past that, the dictionary (always kept) answers.
package struct FirstSeenNumbering<Value: Hashable>: Sendable where Value: Sendable {
    package init() {}

    package private(set) var values: [Value] = []
    private var numbers: [Value: Int] = [:]

    /// The number of `value`, and whether this is its first sight.
    package mutating func number(_ value: Value) -> (number: Int, isNew: Bool) {
        if values.count <= 16 {
            if let known = values.firstIndex(of: value) { return (known, false) }
        } else if let known = numbers[value] {
            return (known, false)
        }
        numbers[value] = values.count
        values.append(value)
        return (values.count - 1, true)
    }

    /// Forgets the values, keeping the memory.
    package mutating func removeAll() {
        values.removeAll(keepingCapacity: true)
        numbers.removeAll(keepingCapacity: true)
    }
}
