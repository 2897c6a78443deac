import SightlineCore

/// Builds the bytes of a block's `index` file from its series, already in label order (`Labels`' `<`). Pure: no file I/O.
///
/// Layout (all integers varints unless noted; "svarint" is ZigZag):
///
/// ```
/// magic "SLBI", version u8 (2)
/// symbols section      count; per symbol, sorted by UTF-8 bytes: sharedPrefixLength, suffixLength, suffix bytes
/// series section       baseTime svarint; count; per series:
///                        sharedCount (its first labels equal to the previous series' first ones, 0 for the first);
///                        restCount; (nameRef, valueRef) × restCount     (version 1: labelCount, then every pair)
///                        chunkCount; offsetGap (first record's offset − end of the previous series' records)
///                        per chunk: minTime (1st: − baseTime; others: svarint − previous maxTime),
///                                   maxTime − minTime, recordLength
/// label index section  nameCount; per name (ascending ref): nameRef, valueCount;
///                        per value (ascending ref): valueRef delta, postings offset delta
/// postings section     per (name, value), in label-index order: count, first series ref, deltas to the next refs
/// each section is followed by its CRC32C (u32 LE)
/// table of contents    4 × (offset u64 LE, length u64 LE) of the section payloads, then its CRC32C
/// ```
enum BlockIndexEncoder {
    /// One series as the index records it.
    struct Series {
        /// The series' labels.
        var labels: Labels
        /// Its chunks: contiguous records in the `chunks` file, in minTime order.
        var chunks: [BlockChunkRef]
    }

    /// The bytes of the `index` file for `series` (sorted, unique, each with ≥ 1 chunk), in `version`
    /// (``BlockFormat/indexVersion``; 1, every label of every series written, is kept to test that such files read).
    /// - Throws: `internal` when the series are out of order or a limit (4 Gi symbols, series, postings bytes) is exceeded.
    static func encode(_ series: [Series], version: UInt8 = BlockFormat.indexVersion) throws -> [UInt8] {
        guard series.count < Int(UInt32.max) else { throw SightlineError(.internal, "too many series for one block: \(series.count)") }

        // Symbols.
        var symbolSet = Set<String>()
        for entry in series {
            for label in entry.labels.labels {
                symbolSet.insert(label.name)
                symbolSet.insert(label.value)
            }
        }
        let symbols = symbolSet.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        guard symbols.count < Int(UInt32.max) else { throw SightlineError(.internal, "too many symbols for one block: \(symbols.count)") }
        var symbolRefs: [String: UInt32] = [:]
        symbolRefs.reserveCapacity(symbols.count)
        for (i, symbol) in symbols.enumerated() { symbolRefs[symbol] = UInt32(i) }

        var symbolsSection = ByteWriter(capacity: symbols.count * 8 + 8)
        symbolsSection.writeVarint(UInt64(symbols.count))
        var previous: [UInt8] = []
        for symbol in symbols {
            let bytes = Array(symbol.utf8)
            var shared = 0
            while shared < previous.count, shared < bytes.count, previous[shared] == bytes[shared] { shared += 1 }
            symbolsSection.writeVarint(UInt64(shared))
            symbolsSection.writeBytes(bytes[shared...])
            previous = bytes
        }

        // Series, collecting postings on the way.
        let baseTime = series.lazy.compactMap { $0.chunks.first?.minTime }.min() ?? 0
        var seriesSection = ByteWriter(capacity: series.count * 32 + 16)
        seriesSection.writeSignedVarint(baseTime)
        seriesSection.writeVarint(UInt64(series.count))
        var postings: [UInt32: [UInt32: [UInt32]]] = [:]
        var expectedOffset = UInt64(BlockFormat.headerLength)
        for (ref, entry) in series.enumerated() {
            if ref > 0, !(series[ref - 1].labels < entry.labels) {
                throw SightlineError(.internal, "series out of order or duplicated: \(series[ref - 1].labels) then \(entry.labels)")
            }
            // Series sorted by labels share their first ones with the one before (its name, job, instance, …).
            let labels = entry.labels.labels
            let previous = ref > 0 ? series[ref - 1].labels.labels : []
            var shared = 0
            while version >= 2, shared < labels.count, shared < previous.count, labels[shared] == previous[shared] { shared += 1 }
            if version >= 2 { seriesSection.writeVarint(UInt64(shared)) }
            seriesSection.writeVarint(UInt64(labels.count - shared))
            for (position, label) in labels.enumerated() {
                let name = symbolRefs[label.name] ?? 0
                let value = symbolRefs[label.value] ?? 0
                if position >= shared {
                    seriesSection.writeVarint(UInt64(name))
                    seriesSection.writeVarint(UInt64(value))
                }
                postings[name, default: [:]][value, default: []].append(UInt32(ref))
            }
            seriesSection.writeVarint(UInt64(entry.chunks.count))
            guard let first = entry.chunks.first else { continue }
            guard first.offset >= expectedOffset else { throw SightlineError(.internal, "chunk records of \(entry.labels) overlap earlier ones") }
            seriesSection.writeVarint(first.offset - expectedOffset)
            var offset = first.offset
            var previousMax = baseTime
            for (i, chunk) in entry.chunks.enumerated() {
                guard chunk.offset == offset, chunk.maxTime >= chunk.minTime else {
                    throw SightlineError(.internal, "chunk \(i) of \(entry.labels) is not contiguous or has maxTime < minTime")
                }
                if i == 0 {
                    seriesSection.writeVarint(UInt64(bitPattern: chunk.minTime &- baseTime))
                } else {
                    seriesSection.writeSignedVarint(chunk.minTime &- previousMax)
                }
                seriesSection.writeVarint(UInt64(bitPattern: chunk.maxTime &- chunk.minTime))
                seriesSection.writeVarint(UInt64(chunk.length))
                previousMax = chunk.maxTime
                offset += UInt64(chunk.length)
            }
            expectedOffset = offset
        }

        // Label index and postings.
        var labelIndexSection = ByteWriter(capacity: 1024)
        var postingsSection = ByteWriter(capacity: series.count * 8 + 16)
        let names = postings.keys.sorted()
        labelIndexSection.writeVarint(UInt64(names.count))
        for name in names {
            let values = postings[name] ?? [:]
            labelIndexSection.writeVarint(UInt64(name))
            labelIndexSection.writeVarint(UInt64(values.count))
            var previousValue: UInt32 = 0
            var previousOffset = 0
            for value in values.keys.sorted() {
                let refs = values[value] ?? []
                labelIndexSection.writeVarint(UInt64(value - previousValue))
                labelIndexSection.writeVarint(UInt64(postingsSection.bytes.count - previousOffset))
                previousValue = value
                previousOffset = postingsSection.bytes.count
                postingsSection.writeVarint(UInt64(refs.count))
                var previousRef: UInt32 = 0
                for seriesRef in refs {
                    postingsSection.writeVarint(UInt64(seriesRef - previousRef))
                    previousRef = seriesRef
                }
            }
        }
        guard postingsSection.bytes.count < Int(UInt32.max) else { throw SightlineError(.internal, "postings section exceeds 4 GiB") }

        // The file.
        var file = ByteWriter(capacity: symbolsSection.bytes.count + seriesSection.bytes.count + labelIndexSection.bytes.count
            + postingsSection.bytes.count + 128)
        file.writeRaw(BlockFormat.indexMagic)
        file.writeByte(version)
        var toc = ByteWriter(capacity: BlockFormat.tableOfContentsLength)
        for section in [symbolsSection.bytes, seriesSection.bytes, labelIndexSection.bytes, postingsSection.bytes] {
            toc.writeUInt64LE(UInt64(file.bytes.count))
            toc.writeUInt64LE(UInt64(section.count))
            file.writeRaw(section)
            file.writeUInt32LE(CRC32C.checksum(section))
        }
        toc.writeUInt32LE(CRC32C.checksum(toc.bytes))
        file.writeRaw(toc.bytes)
        return file.bytes
    }
}
