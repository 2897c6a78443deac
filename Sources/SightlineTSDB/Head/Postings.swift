/// Set operations on postings: sorted, duplicate-free arrays of series ids.
enum Postings {
    /// The ids in both lists.
    static func intersect(_ a: [UInt32], _ b: [UInt32]) -> [UInt32] {
        var result: [UInt32] = []
        result.reserveCapacity(min(a.count, b.count))
        var i = 0
        var j = 0
        while i < a.count && j < b.count {
            let x = a[i]
            let y = b[j]
            if x < y {
                i += 1
            } else if y < x {
                j += 1
            } else {
                result.append(x)
                i += 1
                j += 1
            }
        }
        return result
    }

    /// The ids of `a` that are not in `b`.
    static func subtract(_ a: [UInt32], _ b: [UInt32]) -> [UInt32] {
        guard !b.isEmpty else { return a }
        var result: [UInt32] = []
        result.reserveCapacity(a.count)
        var j = 0
        for x in a {
            while j < b.count && b[j] < x { j += 1 }
            if j < b.count && b[j] == x { continue }
            result.append(x)
        }
        return result
    }

    /// The ids in any of the lists.
    static func union(_ lists: [[UInt32]]) -> [UInt32] {
        switch lists.count {
        case 0: return []
        case 1: return lists[0]
        default:
            // Concatenate and sort: simpler than a heap merge and fast for the list counts regexes produce.
            var all: [UInt32] = []
            all.reserveCapacity(lists.reduce(0) { $0 + $1.count })
            for list in lists { all.append(contentsOf: list) }
            all.sort()
            var result: [UInt32] = []
            result.reserveCapacity(all.count)
            for id in all where result.last != id { result.append(id) }
            return result
        }
    }

    /// Inserts `id` keeping the list sorted; a no-op when it is there.
    static func insert(_ id: UInt32, into list: inout [UInt32]) {
        if let last = list.last, last < id {
            list.append(id)
            return
        }
        let index = lowerBound(id, in: list)
        if index < list.count && list[index] == id { return }
        list.insert(id, at: index)
    }

    /// Removes `id` from the list when it is there.
    static func remove(_ id: UInt32, from list: inout [UInt32]) {
        let index = lowerBound(id, in: list)
        if index < list.count && list[index] == id { list.remove(at: index) }
    }

    /// The first index whose id is at least `id`.
    static func lowerBound(_ id: UInt32, in list: [UInt32]) -> Int {
        var low = 0
        var high = list.count
        while low < high {
            let mid = (low + high) / 2
            if list[mid] < id { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
