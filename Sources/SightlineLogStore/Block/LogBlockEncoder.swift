import Glibc
import SightlineCore

/// A log batch's columns, read in place while its rows are added to blocks: pointers only, so handing them to a
/// function per row copies no reference (the batch's tables go to ``LogBlockEncoder/begin(_:)`` once).
struct LogBatchColumns {
    let rows: UnsafeBufferPointer<LogBatch.Row>
    let bytes: UnsafeRawBufferPointer
    let attributes: UnsafeBufferPointer<LogBatch.AttributeEntry>

    /// Calls `body` with `batch`'s columns.
    static func read<Result>(_ batch: LogBatch, _ body: (LogBatchColumns) throws -> Result) rethrows -> Result {
        try batch.rows.withUnsafeBufferPointer { rows in
            try batch.bytes.withUnsafeBytes { bytes in
                try batch.attributes.withUnsafeBufferPointer { attributes in
                    try body(LogBatchColumns(rows: rows, bytes: bytes, attributes: attributes))
                }
            }
        }
    }

    /// The bytes of a byte-backed value.
    func bytes(of value: LogBatch.Value) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[value.byteRange])
    }
}

/// Builds a block in the format of ``LogBlockCodec`` one record at a time, so a part writer encodes the rows of
/// log batches where they lie (head chunks, a merge's decoded blocks) without gathering them into one array first.
///
/// One encoder serves a whole part: ``finish(bitsPerTrigram:)`` hands the block out and starts the next one with the
/// trigram table cleared bit by bit (2 MiB of it, which a fresh table per block would allocate and zero).
struct LogBlockEncoder {
    /// Records added since the last ``finish(bitsPerTrigram:)``.
    private(set) var count = 0
    /// The lines' bytes plus a rough 64 bytes a record for the other columns: what a part writer cuts blocks by.
    private(set) var estimatedBytes = 0

    private var times = ByteWriter(capacity: 0)
    private var timeKinds = ByteWriter(capacity: 0)
    private var observed = ByteWriter(capacity: 0)
    private var severityNumbers = ByteWriter(capacity: 0)
    private var severityTexts = DictionaryColumn()
    private var bodyKinds = ByteWriter(capacity: 0)
    private var lineLengths = ByteWriter(capacity: 0)
    private var lines = ByteWriter(capacity: 0)
    private var otherBodies = ByteWriter(capacity: 0)
    private var dropped = ByteWriter(capacity: 0)
    private var flags = ByteWriter(capacity: 0)
    private var tracePresence = ByteWriter(capacity: 0)
    private var traceBytes = ByteWriter(capacity: 0)
    private var spanPresence = ByteWriter(capacity: 0)
    private var spanBytes = ByteWriter(capacity: 0)
    private var eventNames = DictionaryColumn()
    private var resources = RepeatingDictionaryColumn<[Attribute]> { $0.writeAttributes($1) }
    private var scopes = RepeatingDictionaryColumn<InstrumentationScope> { $0.writeScope($1) }
    private var explicitStream = ByteWriter(capacity: 0)
    /// The block's attribute keys, a value column for each, and its key sequences ("shapes") by key number.
    private var keys = FirstSeenNumbering<String>()
    private var values: [AttributeValueColumn] = []
    private var shapes = FirstSeenNumbering<[Int]>()
    private var shapeIndexes = ByteWriter(capacity: 0)
    /// The previous record's shape and its index: records of one logger repeat them, so most records find their
    /// keys by comparing them with the shape's.
    private var lastShape: [Int] = []
    private var lastShapeIndex = -1
    /// The block key number of each string number of the batch being read (-1 until looked up), so a key is looked
    /// up by its text once per batch and block, not once per attribute.
    private var keyNumbers: [Int] = []
    /// The batch whose rows are being added (its tables: strings, resources, scopes), and a count of the batches
    /// ``begin(_:)`` started: a resource or scope number means the same entry within one.
    private var batch = LogBatch()
    private var strings: [String] = []
    private var source = 0
    private var trigrams = TrigramCollector()
    private var previous: UInt64 = 0
    private var minTime = UInt64.max
    private var maxTime: UInt64 = 0
    private var lineBytes = 0

    /// Starts reading rows of `batch`: string, resource and scope numbers now refer to its tables.
    mutating func begin(_ batch: LogBatch) {
        self.batch = batch
        strings = batch.strings
        source += 1
        keyNumbers.removeAll(keepingCapacity: true)
        keyNumbers.append(contentsOf: repeatElement(-1, count: strings.count))
    }

    /// Adds row `index` of `columns`, those of the batch given to the last ``begin(_:)``; rows must come in effective
    /// time order.
    mutating func add(_ index: Int, of columns: LogBatchColumns) {
        let row = columns.rows.baseAddress! + index
        count += 1
        let time = row.pointee.effectiveTimeUnixNano
        minTime = min(minTime, time)
        maxTime = max(maxTime, time)
        times.writeVarint(time &- previous)
        previous = time
        if row.pointee.timeUnixNano != 0 {
            timeKinds.writeByte(0)
            observed.writeSignedVarint(Int64(bitPattern: row.pointee.observedTimeUnixNano &- row.pointee.timeUnixNano))
        } else {
            timeKinds.writeByte(1)
        }
        severityNumbers.writeSignedVarint(Int64(row.pointee.severityNumber))
        severityTexts.append(strings[Int(row.pointee.severityText)])
        switch row.pointee.body.kind {
        case .empty:
            bodyKinds.writeByte(0)
        case .string:
            bodyKinds.writeByte(1)
            let utf8 = columns.bytes(of: row.pointee.body)
            lineLengths.writeVarint(UInt64(utf8.count))
            lines.writeRaw(utf8)
            trigrams.add(utf8)
            lineBytes += utf8.count
            estimatedBytes += utf8.count
        default:
            bodyKinds.writeByte(2)
            let body = batch.attributeValue(row.pointee.body)
            otherBodies.writeAttributeValue(body)
            let text = Array(body.text.utf8)
            trigrams.add(text)
            lineBytes += text.count
            estimatedBytes += text.count
        }
        estimatedBytes += 64
        let first = Int(row.pointee.firstAttribute)
        addAttributes(UnsafeBufferPointer(rebasing: columns.attributes[first..<(first + Int(row.pointee.attributeCount))]), of: columns)
        dropped.writeVarint(UInt64(row.pointee.droppedAttributesCount))
        flags.writeVarint(UInt64(row.pointee.flags))
        if row.pointee.hasTraceID {
            tracePresence.writeByte(1)
            traceBytes.writeUInt64LE(row.pointee.traceIDHigh)
            traceBytes.writeUInt64LE(row.pointee.traceIDLow)
        } else {
            tracePresence.writeByte(0)
        }
        if row.pointee.hasSpanID {
            spanPresence.writeByte(1)
            spanBytes.writeUInt64LE(row.pointee.spanID)
        } else {
            spanPresence.writeByte(0)
        }
        eventNames.append(strings[Int(row.pointee.eventName)])
        resources.append(batch.resources[Int(row.pointee.resource)], reference: (source, Int(row.pointee.resource)))
        scopes.append(batch.scopes[Int(row.pointee.scope)], reference: (source, Int(row.pointee.scope)))
        explicitStream.writeByte(row.pointee.stream == 0 ? 0 : 1)
    }

    /// The block key number of string number `key` of the current batch.
    private mutating func keyNumber(_ key: UInt32, of columns: LogBatchColumns) -> Int {
        let known = keyNumbers[Int(key)]
        if known >= 0 { return known }
        let numbered = keys.number(strings[Int(key)])
        if numbered.isNew { values.append(AttributeValueColumn()) }
        keyNumbers[Int(key)] = numbered.number
        return numbered.number
    }

    /// Adds a record's attributes to their keys' columns and its shape (its key sequence) to the shape column.
    private mutating func addAttributes(_ attributes: UnsafeBufferPointer<LogBatch.AttributeEntry>, of columns: LogBatchColumns) {
        var sameShape = lastShapeIndex >= 0 && attributes.count == lastShape.count
        if sameShape {
            for index in attributes.indices where keyNumber(attributes[index].key, of: columns) != lastShape[index] {
                sameShape = false
                break
            }
        }
        if !sameShape {
            lastShape.removeAll(keepingCapacity: true)
            for attribute in attributes { lastShape.append(keyNumber(attribute.key, of: columns)) }
            lastShapeIndex = shapes.number(lastShape).number
        }
        for index in attributes.indices {
            let value = attributes[index].value
            // A pattern, not `==`: the kind's equality is a call into another module.
            if case .string = value.kind {
                values[lastShape[index]].append(string: columns.bytes(of: value))
            } else {
                values[lastShape[index]].append(batch.attributeValue(value))
            }
        }
        shapeIndexes.writeVarint(UInt64(lastShapeIndex))
    }

    /// The block of the records added since the last call (which must be at least one, or none at all for an empty
    /// block); the encoder is then empty again.
    mutating func finish(bitsPerTrigram: Int) -> EncodedBlock {
        var shapeColumn = ByteWriter(capacity: 64 + shapeIndexes.bytes.count)
        shapeColumn.writeVarint(UInt64(keys.values.count))
        for key in keys.values { shapeColumn.writeString(key) }
        shapeColumn.writeVarint(UInt64(shapes.values.count))
        for shape in shapes.values {
            shapeColumn.writeVarint(UInt64(shape.count))
            for key in shape { shapeColumn.writeVarint(UInt64(key)) }
        }
        shapeColumn.writeRaw(shapeIndexes.bytes)
        tracePresence.writeRaw(traceBytes.bytes)
        spanPresence.writeRaw(spanBytes.bytes)

        var columns = ColumnSetWriter()
        columns.append(times.bytes)
        columns.append(timeKinds.bytes)
        columns.append(observed.bytes)
        columns.append(severityNumbers.bytes)
        columns.append(severityTexts.encoded())
        columns.append(bodyKinds.bytes)
        columns.append(lineLengths.bytes)
        columns.append(lines.bytes)
        columns.append(otherBodies.bytes)
        columns.append(shapeColumn.bytes)
        columns.append(dropped.bytes)
        columns.append(flags.bytes)
        columns.append(tracePresence.bytes)
        columns.append(spanPresence.bytes)
        columns.append(eventNames.encoded())
        columns.append(resources.encoded())
        columns.append(scopes.encoded())
        columns.append(explicitStream.bytes)
        for column in values {
            let encoded = column.encoded()
            columns.append(encoded.bytes, compress: !encoded.isHexBytes)
        }
        let block = EncodedBlock(
            data: columns.finish(), bloom: trigrams.filter(bitsPerTrigram: bitsPerTrigram), minTime: count == 0 ? 0 : minTime,
            maxTime: maxTime, count: count, lineBytes: lineBytes
        )
        reset()
        return block
    }

    /// Empties the encoder for the next block, keeping the column buffers' and the trigram table's memory.
    private mutating func reset() {
        count = 0
        estimatedBytes = 0
        for keyPath: WritableKeyPath<Self, ByteWriter> in [
            \.times, \.timeKinds, \.observed, \.severityNumbers, \.bodyKinds, \.lineLengths, \.lines, \.otherBodies, \.dropped,
            \.flags, \.tracePresence, \.traceBytes, \.spanPresence, \.spanBytes, \.explicitStream, \.shapeIndexes,
        ] {
            self[keyPath: keyPath].removeAll()
        }
        severityTexts = DictionaryColumn()
        eventNames = DictionaryColumn()
        resources.removeAll()
        scopes.removeAll()
        keys.removeAll()
        values.removeAll(keepingCapacity: true)
        shapes.removeAll()
        lastShape.removeAll(keepingCapacity: true)
        lastShapeIndex = -1
        for index in keyNumbers.indices { keyNumbers[index] = -1 }
        trigrams.removeAll()
        previous = 0
        minTime = .max
        maxTime = 0
        lineBytes = 0
    }
}

/// A dictionary column of values that mostly repeat the previous record's (a record's resource and scope): a
/// repeat costs a comparison, not an encoding and a lookup.
struct RepeatingDictionaryColumn<Value: Equatable> {
    private var column = DictionaryColumn()
    /// The last value, its entry, and the batch table entry it came from (kept apart: reading the reference must not
    /// copy the value).
    private var lastValue: Value?
    private var lastIndex = 0
    private var lastReference = (source: -1, number: -1)
    private let encode: (inout ByteWriter, Value) -> Void

    init(encode: @escaping (inout ByteWriter, Value) -> Void) {
        self.encode = encode
    }

    /// Appends `value`, which is entry `reference.number` of a batch table numbered `reference.source`: the same
    /// entry as the last one's is a repeat without a comparison.
    mutating func append(_ value: @autoclosure () -> Value, reference: (source: Int, number: Int)) {
        if reference == lastReference {
            column.appendIndex(lastIndex)
            return
        }
        lastReference = reference
        let value = value()
        if lastValue == value {
            column.appendIndex(lastIndex)
            return
        }
        var writer = ByteWriter(capacity: 64)
        encode(&writer, value)
        lastIndex = column.append(writer.bytes)
        lastValue = value
    }

    /// Forgets the values, for the next block.
    mutating func removeAll() {
        column = DictionaryColumn()
        lastValue = nil
        lastReference = (-1, -1)
    }

    /// The column (see ``DictionaryColumn/encoded()``).
    func encoded() -> [UInt8] { column.encoded() }
}

/// The values of one attribute key in record order, kept for the most compact of the four value modes of
/// ``LogBlockCodec``: while every value is a string, their UTF-8 bytes back to back (no string is retained and none
/// is hashed until the block is finished); from the first value of another kind on, every value tagged.
struct AttributeValueColumn {
    private var count = 0
    private var bytes: [UInt8] = []
    /// Where each string ends in `bytes`.
    private var ends: [Int32] = []
    private var allLowercaseHex = true
    private var tagged: ByteWriter?

    mutating func append(_ value: AttributeValue) {
        guard tagged == nil, case .string(var string) = value else {
            appendTagged(value)
            return
        }
        string.withUTF8 { append(string: UnsafeRawBufferPointer($0)) }
    }

    /// Appends a string value given as its UTF-8 bytes.
    mutating func append(string utf8: UnsafeRawBufferPointer) {
        guard tagged == nil else {
            appendTagged(.string(String(decoding: utf8, as: UTF8.self)))
            return
        }
        count += 1
        if allLowercaseHex { allLowercaseHex = Self.isLowercaseHex(utf8) }
        bytes.append(contentsOf: utf8)
        ends.append(Int32(bytes.count))
    }

    /// Appends a value tagged, switching the column to tagged values first if it held only strings.
    private mutating func appendTagged(_ value: AttributeValue) {
        count += 1
        if tagged == nil {
            var writer = ByteWriter(capacity: bytes.count + 16 * count)
            var start = 0
            for end in ends {
                writer.writeAttributeValue(.string(String(decoding: bytes[start..<Int(end)], as: UTF8.self)))
                start = Int(end)
            }
            tagged = writer
            bytes = []
            ends = []
        }
        tagged?.writeAttributeValue(value)
    }

    private static func isLowercaseHexDigit(_ byte: UInt8) -> Bool { (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) }

    /// Whether `text` is an even number of lowercase hex digits, checked eight bytes a step: a byte is a digit when
    /// it is in 0x30...0x39 or 0x61...0x66, each range tested by adding to every byte so that only the bytes inside it
    /// carry into (or stay below) bit 7.
    static func isLowercaseHex(_ text: UnsafeRawBufferPointer) -> Bool {
        guard text.count % 2 == 0 else { return false }
        var at = 0
        if let base = text.baseAddress {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let high: UInt64 = 0x8080_8080_8080_8080
            while at + 8 <= text.count {
                let word = base.loadUnaligned(fromByteOffset: at, as: UInt64.self)
                guard word & high == 0 else { return false }
                // Bit 7 of a byte set in `atLeast(x)` when the byte is ≥ x (bytes < 0x80, so no carry between them).
                func atLeast(_ x: UInt64) -> UInt64 { (word &+ (0x80 - x) &* ones) & high }
                let digit = atLeast(0x30) & ~atLeast(0x3A)
                let letter = atLeast(0x61) & ~atLeast(0x67)
                guard digit | letter == high else { return false }
                at += 8
            }
        }
        while at < text.count {
            guard isLowercaseHexDigit(text[at]) else { return false }
            at += 1
        }
        return true
    }

    private static func hexValue(_ digit: UInt8) -> UInt8 { digit <= 0x39 ? digit - 0x30 : digit - 0x61 + 10 }

    /// Writes the bytes that lowercase hex `digits` (an even count) spell, eight digits a step: a digit's value is
    /// its low nibble, plus 9 for a letter (bit 6 set), then each pair of nibbles is joined into a byte.
    private static func pack(hexDigits digits: UnsafeRawBufferPointer, into out: inout UnsafeByteCursor) {
        var at = 0
        while at + 8 <= digits.count {
            let word = UInt64(littleEndian: digits.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            let nibbles = (word & 0x0F0F_0F0F_0F0F_0F0F) &+ 9 &* ((word >> 6) & 0x0101_0101_0101_0101)
            // Each 16-bit lane: the first digit's nibble high, the second's low, in its low byte.
            var lanes = ((nibbles & 0x00FF_00FF_00FF_00FF) << 4) | ((nibbles >> 8) & 0x00FF_00FF_00FF_00FF)
            lanes = (lanes | (lanes >> 8)) & 0x0000_FFFF_0000_FFFF
            lanes = (lanes | (lanes >> 16)) & 0x0000_0000_FFFF_FFFF
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: lanes).littleEndian) { out.writeRaw($0) }
            at += 8
        }
        while at < digits.count {
            out.writeByte(hexValue(digits[at]) << 4 | hexValue(digits[at + 1]))
            at += 2
        }
    }

    /// The column: a mode byte and the value count, then mode 0 tagged values, 1 a string dictionary (when its
    /// entries are at most a quarter of the values), 3 lowercase hex strings as their bytes, 2 length-prefixed strings.
    /// `isHexBytes` for mode 3: mostly distinct ids as bytes, which LZ4 would scan for nothing.
    func encoded() -> (bytes: [UInt8], isHexBytes: Bool) {
        let bytes = encodedBytes()
        return (bytes, bytes.first == 3)
    }

    private func encodedBytes() -> [UInt8] {
        var out = ByteWriter(capacity: (tagged?.bytes.count ?? bytes.count) + 10 * count + 16)
        if let tagged {
            out.writeByte(0)
            out.writeVarint(UInt64(count))
            out.writeRaw(tagged.bytes)
            return out.bytes
        }
        // Varints of lengths and indexes take at most 10 bytes each; the values' bytes at most what they are.
        let room = 2 + 10 + bytes.count + 10 * count + 10
        return bytes.withUnsafeBytes { raw in
            func value(_ index: Int) -> UnsafeRawBufferPointer {
                let start = index == 0 ? 0 : Int(ends[index - 1])
                return UnsafeRawBufferPointer(rebasing: raw[start..<Int(ends[index])])
            }
            if let (entries, indexes) = ByteStringDictionary.build(count: count, maxEntries: count / 4, value: value) {
                out.write(atMost: room) { out in
                    out.writeByte(1)
                    out.writeVarint(UInt64(count))
                    out.writeVarint(UInt64(entries.count))
                    for entry in entries {
                        let bytes = value(entry)
                        out.writeVarint(UInt64(bytes.count))
                        out.writeRaw(bytes)
                    }
                    for index in indexes { out.writeVarint(UInt64(index)) }
                }
                return out.bytes
            }
            if allLowercaseHex {
                out.write(atMost: room) { out in
                    out.writeByte(3)
                    out.writeVarint(UInt64(count))
                    for index in 0..<count {
                        let digits = value(index)
                        out.writeVarint(UInt64(digits.count / 2))
                        Self.pack(hexDigits: digits, into: &out)
                    }
                }
                return out.bytes
            }
            out.write(atMost: room) { out in
                out.writeByte(2)
                out.writeVarint(UInt64(count))
                for index in 0..<count {
                    let bytes = value(index)
                    out.writeVarint(UInt64(bytes.count))
                    out.writeRaw(bytes)
                }
            }
            return out.bytes
        }
    }
}

/// Finds the distinct byte strings among `count` values by hashing their bytes (open addressing, linear probing):
/// no `String` is made and none is hashed with the standard library's seeded hasher.
enum ByteStringDictionary {
    /// The distinct values in first-seen order (each as the index of its first occurrence) and every value's entry
    /// number; nil as soon as there would be more than `maxEntries` entries.
    static func build(
        count: Int, maxEntries: Int, value: (Int) -> UnsafeRawBufferPointer
    ) -> (entries: [Int], indexes: [Int32])? {
        guard count > 0 else { return ([], []) }
        var capacity = 16
        while capacity < 2 * (maxEntries + 1) { capacity <<= 1 }
        let mask = capacity - 1
        // Each slot: entry number + 1, 0 when empty.
        var slots = [Int32](repeating: 0, count: capacity)
        var hashes: [UInt64] = []
        var entries: [Int] = []
        var indexes: [Int32] = []
        indexes.reserveCapacity(count)
        var lastIndex: Int32 = -1
        var lastValue = UnsafeRawBufferPointer(start: nil, count: 0)
        for index in 0..<count {
            let bytes = value(index)
            if lastIndex >= 0 && equal(bytes, lastValue) {
                indexes.append(lastIndex)
                continue
            }
            let hash = hashBytes(bytes)
            var slot = Int(truncatingIfNeeded: hash) & mask
            var found: Int32 = -1
            while slots[slot] != 0 {
                let entry = Int(slots[slot] - 1)
                if hashes[entry] == hash && equal(value(entries[entry]), bytes) {
                    found = Int32(entry)
                    break
                }
                slot = (slot + 1) & mask
            }
            if found < 0 {
                guard entries.count < maxEntries else { return nil }
                found = Int32(entries.count)
                entries.append(index)
                hashes.append(hash)
                slots[slot] = found + 1
            }
            indexes.append(found)
            lastIndex = found
            lastValue = bytes
        }
        return (entries, indexes)
    }

    private static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard a.count > 0, let x = a.baseAddress, let y = b.baseAddress else { return true }
        return memcmp(x, y, a.count) == 0
    }

    /// Chosen per process, so values cannot be crafted to collide.
    private static let seed = UInt64.random(in: 0 ... .max)

    /// A fast hash of bytes, eight at a time.
    private static func hashBytes(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
        var hash = (seed ^ UInt64(bytes.count)) &* multiplier
        guard let base = bytes.baseAddress else { return hash }
        var offset = 0
        while offset + 8 <= bytes.count {
            let word = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            hash = (hash ^ word) &* multiplier
            hash ^= hash >> 29
            offset += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count {
            tail |= UInt64(base.load(fromByteOffset: offset, as: UInt8.self)) << shift
            shift += 8
            offset += 1
        }
        hash = (hash ^ tail) &* multiplier
        return hash ^ (hash >> 32)
    }
}
