import SightlineCore

/// The block encoding of chunks whose values are all decimal numbers (VictoriaMetrics' idea): every value is stored as
/// an integer mantissa `m` over a common power of ten (`v = m / 10^k`), and both columns as bit-packed deltas.
///
/// Gorilla's XOR cannot exploit that most samples are rounded decimals (1/100 s CPU counters, integral byte
/// counters): their binary mantissas look random. As integers, a counter's consecutive values differ by a small
/// number, and jittered scrape timestamps differ from the regular step by a few ms. Blocks use this encoding where it
/// applies (``ChunkCodec/encodeForBlock(timestamps:values:)``); the head keeps XOR chunks, and so do chunks holding a
/// value that is not such a decimal (NaN, the staleness marker, ±Inf, −0, integers past 2^53): this encoder refuses them.
///
/// Layout (``ChunkEncoding/decimal``), a bit stream:
/// ```
/// count      uvarint
/// t0         zigzag varint
/// delta1     zigzag varint               when count ≥ 2 (t1 − t0, wrapping)
/// dods       packed(count − 2)           zigzag(Δt_i − Δt_{i−1}), wrapping
/// k          uvarint                     values are m / 10^k, k ≤ 18
/// m0         zigzag varint
/// mode       uvarint                     when count ≥ 2: bit 0 set = deltas of deltas (else deltas),
///                                        bit 1 set = packed from their minimum (else zigzagged)
/// [d1        zigzag varint]              deltas of deltas only: m1 − m0
/// gcd        uvarint                     what every packed (signed) difference is a multiple of (0 when all are 0)
/// [base      zigzag varint]              from their minimum only: the smallest difference / gcd
/// diffs      packed(count − 1 − dod)     zigzag(difference / gcd), or difference / gcd − base
/// packed(n): groups of up to 32 values, each a 7-bit width w (0…64) then the values in w bits each
/// ```
/// All integer arithmetic wraps, so any Int64 timestamps round-trip; the encoder checks that every value decodes to
/// the same bits before choosing this encoding.
package enum DecimalChunk {
    /// Values per group of the packed sections; each group carries its own bit width, so one outlier widens 32 values
    /// at most.
    static let groupSize = 32
    /// The largest power of ten tried: 10^18 is exact in a Double and its products with mantissas stay in range.
    static let maxExponent = 18
    /// Powers of ten, exact as Doubles for k ≤ 22.
    static let powersOfTen: [Double] = (0...maxExponent).map { k in (0..<k).reduce(1.0) { acc, _ in acc * 10 } }
    /// Mantissas must be at most this in magnitude, so that `Double(m)` is exact.
    static let maxMantissa: Double = 9_007_199_254_740_992  // 2^53

    /// Encodes samples with strictly ascending timestamps, or returns nil when a value is not a decimal this encoding
    /// can represent exactly (then use XOR). `timestamps` and `values` must have the same, non-zero count.
    package static func encode(timestamps: [Int64], values: [Double]) -> ChunkData? {
        let count = min(timestamps.count, values.count)
        guard count > 0, let (exponent, mantissas) = mantissas(of: values[0..<count]) else { return nil }
        var writer = BitWriter(capacity: count + 16)
        writer.writeUVarint(UInt64(count))
        writer.writeVarint(timestamps[0])
        if count >= 2 {
            writer.writeVarint(timestamps[1] &- timestamps[0])
            var dods: [UInt64] = []
            dods.reserveCapacity(count)
            for i in stride(from: 2, to: count, by: 1) {
                dods.append(zigzag((timestamps[i] &- timestamps[i - 1]) &- (timestamps[i - 1] &- timestamps[i - 2])))
            }
            writePacked(dods, to: &writer)
        }
        writer.writeUVarint(UInt64(exponent))
        writer.writeVarint(mantissas[0])
        if count >= 2 {
            var deltas: [Int64] = []
            deltas.reserveCapacity(count)
            for i in 1..<count { deltas.append(mantissas[i] &- mantissas[i - 1]) }
            var dods: [Int64] = []
            dods.reserveCapacity(count)
            for i in stride(from: 1, to: deltas.count, by: 1) { dods.append(deltas[i] &- deltas[i - 1]) }
            // Of the four forms, the smallest; deltas of deltas pay for their first delta (~64 bits at most), a
            // frame for its base. Counters never decrease, so their deltas from the minimum are a bit narrower than
            // zigzagged, and ones with steady increments narrower still.
            // Indexed by mode: zigzagged deltas, zigzagged deltas of deltas, then both from their minimum.
            let divisions = [divided(deltas), divided(dods)]
            let forms = divisions.map { gcd, quotients in (gcd: gcd, base: nil as Int64?, packed: quotients.map(zigzag)) }
                + divisions.map { gcd, quotients in framed(gcd, quotients) }
            let costs = forms.indices.map { mode in
                packedBits(forms[mode].packed) + (mode & 1 == 1 ? 64 : 0) + (forms[mode].base.map { varintBits($0) } ?? 0)
            }
            let mode = costs.indices.min { costs[$0] < costs[$1] } ?? 0
            writer.writeUVarint(UInt64(mode))
            if mode & 1 == 1 { writer.writeVarint(deltas[0]) }
            writer.writeUVarint(forms[mode].gcd)
            if let base = forms[mode].base { writer.writeVarint(base) }
            writePacked(forms[mode].packed, to: &writer)
        }
        return ChunkData(
            minTime: timestamps[0], maxTime: timestamps[count - 1], sampleCount: count, encoding: .decimal,
            bytes: writer.finishedBytes())
    }

    /// Decodes a chunk written by ``encode(timestamps:values:)``.
    /// - Throws: `dataCorrupted` when the bytes are truncated or inconsistent.
    package static func decode(_ chunk: ChunkData) throws -> (timestamps: [Int64], values: [Double]) {
        try decode(chunk, from: Int64.min, through: Int64.max)
    }

    /// Decodes the samples of a chunk written by ``encode(timestamps:values:)`` with a timestamp in `start...end`,
    /// straight into the returned arrays.
    /// - Throws: `dataCorrupted` when the bytes are truncated or inconsistent.
    package static func decode(_ chunk: ChunkData, from start: Int64, through end: Int64) throws -> (timestamps: [Int64], values: [Double]) {
        let capacity = max(0, chunk.sampleCount)
        var values: [Double] = []
        let timestamps = try [Int64](unsafeUninitializedCapacity: capacity) { times, timesCount in
            values = try [Double](unsafeUninitializedCapacity: capacity) { values, valuesCount in
                valuesCount = try decode(chunk, from: start, through: end, into: times, values)
            }
            timesCount = values.count
        }
        return (timestamps, values)
    }

    /// Decodes a chunk written by ``encode(timestamps:values:)`` and writes its samples with a timestamp in
    /// `start...end` to the start of `timestamps` and `values` (each of at least `chunk.sampleCount` elements),
    /// without intermediate arrays (the query path's decoder). Returns how many it wrote.
    /// - Throws: `dataCorrupted` when the bytes are truncated or inconsistent.
    package static func decode(
        _ chunk: ChunkData, from start: Int64, through end: Int64, into timestamps: UnsafeMutableBufferPointer<Int64>,
        _ values: UnsafeMutableBufferPointer<Double>
    ) throws -> Int {
        guard chunk.encoding == .decimal else {
            throw SightlineError(.dataCorrupted, "chunk encoding \(chunk.encoding.rawValue) is not decimal")
        }
        func corrupted(_ what: String) -> SightlineError {
            SightlineError(.dataCorrupted, "decimal chunk of \(chunk.bytes.count) bytes: \(what)")
        }
        var reader = BitReader(chunk.bytes)
        // Every group of 32 samples costs at least 7 bits per column; anything claiming more is damaged.
        guard let rawCount = reader.readUVarint(), rawCount > 0, rawCount <= UInt64(chunk.bytes.count) * 64 + 2 else {
            throw corrupted("bad sample count")
        }
        let count = Int(rawCount)
        guard count == chunk.sampleCount, count <= timestamps.count, count <= values.count else {
            throw corrupted("\(count) samples where the chunk says \(chunk.sampleCount)")
        }
        // Timestamps first, straight into the output (the values section follows them in the stream, and the range
        // cut needs both), then the kept ones moved to its start.
        let times = UnsafeMutableBufferPointer(rebasing: timestamps[0..<count])
        guard let t0 = reader.readVarint() else { throw corrupted("truncated first timestamp") }
        times[0] = t0
        if count >= 2 {
            guard var delta = reader.readVarint() else { throw corrupted("truncated first time delta") }
            var t = t0 &+ delta
            times[1] = t
            var index = 2
            try readPacked(count - 2, from: &reader, corrupted) { dod in
                delta = delta &+ unzigzag(dod)
                t = t &+ delta
                times[index] = t
                index += 1
            }
        }
        guard times[0] == chunk.minTime, times[count - 1] == chunk.maxTime else {
            throw corrupted("samples do not match the chunk's times")
        }
        // The samples to keep: times ascend, so they are one run.
        var first = 0
        while first < count && times[first] < start { first += 1 }
        var last = count
        while last > first && times[last - 1] > end { last -= 1 }
        guard first < last else { return 0 }
        if first > 0 {
            times.baseAddress!.update(from: times.baseAddress! + first, count: last - first)
        }

        guard let rawExponent = reader.readUVarint(), rawExponent <= UInt64(maxExponent) else { throw corrupted("bad exponent") }
        let divisor = powersOfTen[Int(rawExponent)]
        guard var m = reader.readVarint() else { throw corrupted("truncated first value") }
        // The mantissas up to the last kept sample go to a scratch buffer (the chunk's count: the deltas-of-deltas
        // mode writes a second one before its packed section); the kept ones are then divided in one tight loop,
        // where the divisions overlap.
        return try withUnsafeTemporaryAllocation(of: Int64.self, capacity: count) { mantissas in
            var index = 0
            @inline(__always) func emit(_ m: Int64) {
                mantissas[index] = m
                index += 1
            }
            emit(m)
            if count >= 2 {
                guard let mode = reader.readUVarint(), mode <= 3 else { throw corrupted("bad value mode") }
                var delta: Int64 = 0
                if mode & 1 == 1 {
                    guard let first = reader.readVarint() else { throw corrupted("truncated value header") }
                    delta = first
                    m = m &+ delta
                    emit(m)
                }
                guard let gcd = reader.readUVarint() else { throw corrupted("truncated value header") }
                let factor = Int64(bitPattern: gcd)
                var base: Int64 = 0
                if mode & 2 == 2 {
                    guard let frame = reader.readVarint() else { throw corrupted("truncated value header") }
                    base = frame
                }
                // One loop per form, so that none tests the mode per sample.
                switch mode {
                case 0:
                    try readPacked(last - 1, from: &reader, corrupted) { packed in
                        m = m &+ unzigzag(packed) &* factor
                        emit(m)
                    }
                case 1:
                    try readPacked(last - 2, from: &reader, corrupted) { packed in
                        delta = delta &+ unzigzag(packed) &* factor
                        m = m &+ delta
                        emit(m)
                    }
                case 2:
                    try readPacked(last - 1, from: &reader, corrupted) { packed in
                        m = m &+ (base &+ Int64(bitPattern: packed)) &* factor
                        emit(m)
                    }
                default:
                    try readPacked(last - 2, from: &reader, corrupted) { packed in
                        delta = delta &+ (base &+ Int64(bitPattern: packed)) &* factor
                        m = m &+ delta
                        emit(m)
                    }
                }
            }
            for index in first..<last {
                values[index - first] = Double(mantissas[index]) / divisor
            }
            return last - first
        }
    }

    /// How many leading bits of a decimal chunk hold its sample count and timestamps (the layout above up to `k`),
    /// or nil when the bytes end before them. Series scraped together have equal time sections, which a block stores
    /// once (``BlockTimes``).
    package static func timeSectionBitCount(_ bytes: [UInt8]) -> Int? {
        var reader = BitReader(bytes)
        guard let rawCount = reader.readUVarint(), rawCount > 0, rawCount <= UInt64(bytes.count) * 64 + 2,
            reader.readVarint() != nil
        else { return nil }
        if rawCount >= 2 {
            guard reader.readVarint() != nil else { return nil }
            var remaining = Int(rawCount) - 2
            while remaining > 0 {
                let n = min(groupSize, remaining)
                guard let width = reader.readBits(7), width <= 64, reader.skip(Int(width) * n) else { return nil }
                remaining -= n
            }
        }
        return reader.bitsRead
    }

    // MARK: Values as decimals

    /// The smallest common exponent `k` and the mantissas `m_i` with `Double(m_i) / 10^k` bit-equal to every value,
    /// or nil when there is none (NaN, ±Inf, −0, too many digits).
    static func mantissas(of values: ArraySlice<Double>) -> (Int, [Int64])? {
        var exponent = 0
        for value in values {
            guard let k = decimalExponent(of: value) else { return nil }
            exponent = max(exponent, k)
        }
        let scale = powersOfTen[exponent]
        var mantissas: [Int64] = []
        mantissas.reserveCapacity(values.count)
        for value in values {
            let scaled = (value * scale).rounded()
            guard abs(scaled) < maxMantissa else { return nil }
            let m = Int64(scaled)
            guard (Double(m) / scale).bitPattern == value.bitPattern else { return nil }
            mantissas.append(m)
        }
        return (exponent, mantissas)
    }

    /// The smallest `k` with `value` = `m / 10^k` exactly for an integer `m` under 2^53, or nil.
    static func decimalExponent(of value: Double) -> Int? {
        guard value.isFinite, value.bitPattern != (-0.0 as Double).bitPattern else { return nil }
        for k in 0...maxExponent {
            let scale = powersOfTen[k]
            let scaled = (value * scale).rounded()
            guard abs(scaled) < maxMantissa else { return nil }
            if (scaled / scale).bitPattern == value.bitPattern { return k }
        }
        return nil
    }

    // MARK: Packing

    /// The greatest common divisor of the differences (0 when all are 0) and each difference divided by it.
    private static func divided(_ differences: [Int64]) -> (UInt64, [Int64]) {
        var gcd: UInt64 = 0
        for d in differences where d != 0 {
            var a = gcd
            var b = d.magnitude
            while b != 0 { (a, b) = (b, a % b) }
            gcd = a
            if gcd == 1 { break }
        }
        // A divisor of 2^63 (Int64.min's magnitude) does not fit Int64 as a factor; leave such sets undivided.
        guard gcd > 1, gcd <= UInt64(Int64.max) else { return (gcd == 0 ? 0 : 1, differences) }
        let divisor = Int64(gcd)
        return (gcd, differences.map { $0 / divisor })
    }

    /// The frame-of-reference form of differences divided by `gcd`: each minus the smallest, which becomes the base.
    private static func framed(_ gcd: UInt64, _ quotients: [Int64]) -> (gcd: UInt64, base: Int64?, packed: [UInt64]) {
        let base = quotients.min() ?? 0
        return (gcd, base, quotients.map { UInt64(bitPattern: $0 &- base) })
    }

    /// Bits a zigzag varint of `value` takes.
    private static func varintBits(_ value: Int64) -> Int {
        let bits = 64 - zigzag(value).leadingZeroBitCount
        return max(1, (bits + 6) / 7) * 8
    }

    /// Bits ``writePacked(_:to:)`` would take.
    private static func packedBits(_ values: [UInt64]) -> Int {
        var total = 0
        var start = 0
        while start < values.count {
            let end = min(start + groupSize, values.count)
            total += 7 + width(values[start..<end]) * (end - start)
            start = end
        }
        return total
    }

    /// Bits needed for the largest value of a group.
    private static func width(_ group: ArraySlice<UInt64>) -> Int {
        64 - group.reduce(0, |).leadingZeroBitCount
    }

    private static func writePacked(_ values: [UInt64], to writer: inout BitWriter) {
        var start = 0
        while start < values.count {
            let end = min(start + groupSize, values.count)
            let w = width(values[start..<end])
            writer.writeBits(UInt64(w), count: 7)
            if w > 0 {
                for value in values[start..<end] { writer.writeBits(value, count: w) }
            }
            start = end
        }
    }

    /// Reads `count` packed values (groups of ``groupSize``, each a 7-bit width then the values) and hands each to
    /// `body`; inlined so that `body` is too.
    @inline(__always)
    private static func readPacked(
        _ count: Int, from reader: inout BitReader, _ corrupted: (String) -> SightlineError, _ body: (UInt64) -> Void
    ) throws {
        var remaining = count
        while remaining > 0 {
            let n = min(groupSize, remaining)
            guard let rawWidth = reader.readBits(7), rawWidth <= 64 else { throw corrupted("bad bit width") }
            let w = Int(rawWidth)
            if w == 0 {
                for _ in 0..<n { body(0) }
            } else if w <= 56 {
                guard reader.remainingBits >= w * n else { throw corrupted("truncated packed values") }
                for _ in 0..<n { body(reader.readBitsKnownPresent(w)) }
            } else {
                for _ in 0..<n {
                    guard let value = reader.readBits(w) else { throw corrupted("truncated packed values") }
                    body(value)
                }
            }
            remaining -= n
        }
    }

    @inline(__always)
    private static func zigzag(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value &<< 1) ^ (value >> 63))
    }

    @inline(__always)
    private static func unzigzag(_ value: UInt64) -> Int64 {
        Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1)
    }
}
