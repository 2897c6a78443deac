/// Numbers distinct values in the order they are first seen. Log blocks and batches have few attribute keys, shapes
/// and severity texts, so up to 16 values are found by comparing with each (short strings compare in place), which
/// beats hashing; past that, the dictionary (always kept) answers.
///
/// Public and inlinable, so that it is specialized for its value type in the modules that use it (the compiler
/// does that across modules only for public functions, not `package` ones).
public struct FirstSeenNumbering<Value: Hashable>: Sendable where Value: Sendable {
    @inlinable public init() {}

    /// The values, in the order first seen (a value's number is its index).
    @inlinable public var values: [Value] { seen }
    @usableFromInline var seen: [Value] = []
    @usableFromInline var numbers: [Value: Int] = [:]

    /// The number of `value`, and whether this is its first sight.
    @inlinable public mutating func number(_ value: Value) -> (number: Int, isNew: Bool) {
        if seen.count <= 16 {
            if let known = seen.firstIndex(of: value) { return (known, false) }
        } else if let known = numbers[value] {
            return (known, false)
        }
        numbers[value] = seen.count
        seen.append(value)
        return (seen.count - 1, true)
    }

    /// Forgets the values, keeping the memory.
    @inlinable public mutating func removeAll() {
        seen.removeAll(keepingCapacity: true)
        numbers.removeAll(keepingCapacity: true)
    }
}
