/// Whole-chunk operations on top of ``XORChunkEncoder`` and ``XORChunkDecoder``: decode, encode, merge.
package enum ChunkCodec {
    /// Samples per chunk when encoding, as Prometheus cuts: 120 samples are 30 minutes at a 15 s interval,
    /// long enough that the compression has amortised the 64-bit first value, short enough that a query decodes
    /// little it does not need.
    package static let samplesPerChunk = 120

    /// Samples per chunk in blocks (``encodeForBlock(timestamps:values:)``): decimal chunks have no 64-bit first
    /// value to amortise, but each chunk still costs its header, index entry and record framing (~30 bytes).
    package static let blockSamplesPerChunk = 480

    /// Every sample of a chunk, in ascending time.
    /// - Throws: `dataCorrupted` when the chunk has an unknown encoding or its bytes do not decode.
    package static func decodeAll(_ chunk: ChunkData) throws -> (timestamps: [Int64], values: [Double]) {
        if chunk.encoding == .decimal { return try DecimalChunk.decode(chunk) }
        var decoder = try XORChunkDecoder(chunk)
        var timestamps: [Int64] = []
        var values: [Double] = []
        let expected = min(decoder.sampleCount, 1 << 16)
        timestamps.reserveCapacity(expected)
        values.reserveCapacity(expected)
        while let sample = decoder.next() {
            timestamps.append(sample.t)
            values.append(sample.v)
        }
        if let error = decoder.error { throw error }
        return (timestamps, values)
    }

    /// Encodes samples into chunks of at most ``samplesPerChunk`` samples.
    ///
    /// `timestamps` should ascend strictly; where one does not, a new chunk starts there, so every chunk stays
    /// valid (the chunks then overlap, and ``merge(_:)`` can sort them out). Extra elements of the longer array are
    /// ignored.
    package static func encode(timestamps: [Int64], values: [Double], samplesPerChunk: Int = samplesPerChunk) -> [ChunkData] {
        let count = min(timestamps.count, values.count)
        let limit = max(1, samplesPerChunk)
        var chunks: [ChunkData] = []
        chunks.reserveCapacity(count / limit + 1)
        var encoder = XORChunkEncoder()
        for index in 0..<count {
            let t = timestamps[index]
            if encoder.count >= limit || (encoder.count > 0 && t <= encoder.maxTime) {
                chunks.append(encoder.finish())
                encoder = XORChunkEncoder()
            }
            encoder.append(t, values[index])
        }
        if encoder.count > 0 { chunks.append(encoder.finish()) }
        return chunks
    }

    /// Encodes samples the way blocks store them: pieces of up to ``blockSamplesPerChunk`` samples as
    /// ``DecimalChunk``s where every value of the piece is a decimal, XOR chunks of ``samplesPerChunk`` otherwise.
    /// Like ``encode(timestamps:values:samplesPerChunk:)``, a timestamp that does not ascend starts a new piece.
    package static func encodeForBlock(timestamps: [Int64], values: [Double]) -> [ChunkData] {
        let count = min(timestamps.count, values.count)
        var chunks: [ChunkData] = []
        var start = 0
        while start < count {
            var end = start + 1
            while end < count && end - start < blockSamplesPerChunk && timestamps[end] > timestamps[end - 1] { end += 1 }
            let pieceTimes = Array(timestamps[start..<end])
            let pieceValues = Array(values[start..<end])
            if let chunk = DecimalChunk.encode(timestamps: pieceTimes, values: pieceValues) {
                chunks.append(chunk)
            } else {
                chunks += encode(timestamps: pieceTimes, values: pieceValues)
            }
            start = end
        }
        return chunks
    }

    /// `chunks` without their samples from `startMs` through `endMs` (both included): a chunk outside that range is
    /// kept as it is, one inside it is dropped, and what remains of one across its edge is encoded again by `encode`.
    /// - Returns: the chunks, in the order given, and how many samples were removed.
    /// - Throws: `dataCorrupted` when a chunk the range touches does not decode.
    package static func removing(
        from startMs: Int64, through endMs: Int64, in chunks: [ChunkData], encode: ([Int64], [Double]) -> [ChunkData]
    ) throws -> (chunks: [ChunkData], removed: Int) {
        var result: [ChunkData] = []
        var removed = 0
        for chunk in chunks {
            guard chunk.minTime <= endMs && chunk.maxTime >= startMs else {
                result.append(chunk)
                continue
            }
            if chunk.minTime >= startMs && chunk.maxTime <= endMs {
                removed += chunk.sampleCount
                continue
            }
            let (timestamps, values) = try decodeAll(chunk)
            var keptTimes: [Int64] = []
            var keptValues: [Double] = []
            for (t, v) in zip(timestamps, values) where t < startMs || t > endMs {
                keptTimes.append(t)
                keptValues.append(v)
            }
            removed += timestamps.count - keptTimes.count
            if !keptTimes.isEmpty { result += encode(keptTimes, keptValues) }
        }
        return (result, removed)
    }

    /// Whether a block chunk is as compact as ``encodeForBlock(timestamps:values:)`` makes it, so compaction can copy it.
    package static func isFinal(_ chunk: ChunkData) -> Bool {
        chunk.encoding == .decimal ? chunk.sampleCount >= blockSamplesPerChunk : chunk.sampleCount >= samplesPerChunk
    }

    /// Merges chunks of one series into sorted, non-overlapping chunks.
    ///
    /// Chunks that overlap no other are returned as they are (not re-encoded); each group of overlapping chunks is
    /// decoded, merged and re-encoded. When two chunks hold the same timestamp, the sample of the chunk that comes
    /// later in `chunks` wins: later means newer. Empty chunks are dropped.
    /// - Throws: `dataCorrupted` when a chunk of an overlapping group does not decode.
    package static func merge(_ chunks: [ChunkData]) throws -> [ChunkData] {
        // Sort by start time, remembering the input position as the priority.
        let order = chunks.indices.filter { chunks[$0].sampleCount > 0 }
            .sorted { chunks[$0].minTime != chunks[$1].minTime ? chunks[$0].minTime < chunks[$1].minTime : $0 < $1 }
        var result: [ChunkData] = []
        result.reserveCapacity(order.count)
        var group: [Int] = []
        var groupMax = Int64.min
        for index in order {
            let chunk = chunks[index]
            if !group.isEmpty && chunk.minTime > groupMax {
                try flush(group, of: chunks, into: &result)
                group.removeAll(keepingCapacity: true)
            }
            group.append(index)
            groupMax = group.count == 1 ? chunk.maxTime : max(groupMax, chunk.maxTime)
        }
        if !group.isEmpty { try flush(group, of: chunks, into: &result) }
        return result
    }

    /// Merges like ``merge(_:)``, then re-encodes each run of adjacent chunks that are not full into full chunks with
    /// ``encodeForBlock(timestamps:values:)``: what compaction and head flushes want, because every checkpoint seals a
    /// series' open chunk, so blocks written in real time hold many chunks of a few samples each, and each chunk pays
    /// its own header, first timestamp and first value. XOR chunks from the head become decimal chunks where they can.
    /// - Throws: `dataCorrupted` when a chunk that has to be re-encoded does not decode.
    package static func compact(_ chunks: [ChunkData]) throws -> [ChunkData] {
        var result: [ChunkData] = []
        var run: [ChunkData] = []
        func flushRun() throws {
            defer { run.removeAll(keepingCapacity: true) }
            guard run.count > 1 || run.first.map({ $0.encoding == .xor }) == true else {
                result.append(contentsOf: run)
                return
            }
            var timestamps: [Int64] = []
            var values: [Double] = []
            for chunk in run {
                let decoded = try decodeAll(chunk)
                timestamps.append(contentsOf: decoded.timestamps)
                values.append(contentsOf: decoded.values)
            }
            let encoded = encodeForBlock(timestamps: timestamps, values: values)
            // A lone XOR chunk that did not become decimal stays as it was.
            result.append(contentsOf: run.count == 1 && encoded.count == 1 && encoded[0].encoding == .xor ? run : encoded)
        }
        for chunk in try merge(chunks) {
            if chunk.encoding == .decimal && chunk.sampleCount >= blockSamplesPerChunk {
                try flushRun()
                result.append(chunk)
            } else {
                run.append(chunk)
            }
        }
        try flushRun()
        return result
    }

    /// Emits one group of chunks that overlap in time: as it is when it is one chunk, merged otherwise.
    private static func flush(_ group: [Int], of chunks: [ChunkData], into result: inout [ChunkData]) throws {
        if group.count == 1, let only = group.first {
            result.append(chunks[only])
            return
        }
        // (time, priority, value bits): sorting by time then priority puts the winner last among equal times.
        var samples: [(t: Int64, priority: Int, v: Double)] = []
        for index in group {
            let decoded = try decodeAll(chunks[index])
            samples.reserveCapacity(samples.count + decoded.timestamps.count)
            for (t, v) in zip(decoded.timestamps, decoded.values) { samples.append((t, index, v)) }
        }
        samples.sort { $0.t != $1.t ? $0.t < $1.t : $0.priority < $1.priority }
        var timestamps: [Int64] = []
        var values: [Double] = []
        timestamps.reserveCapacity(samples.count)
        values.reserveCapacity(samples.count)
        for (position, sample) in samples.enumerated() {
            if position + 1 < samples.count && samples[position + 1].t == sample.t { continue }
            timestamps.append(sample.t)
            values.append(sample.v)
        }
        result.append(contentsOf: encode(timestamps: timestamps, values: values))
    }
}
