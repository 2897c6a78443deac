import SightlineCore

/// What one frame of the ``DiskBuffer`` holds: a request body ready to send, and the file read positions it advances.
///
/// Layout: `kind | count | (key, offset, fingerprint)… | body`. Keeping the positions in the same durable frame as
/// the lines they cover is what makes a crash safe: after a restart the tailer resumes from the newest positions any
/// frame (or the positions file) holds, so a line is either in the buffer or still ahead of the read position.
package struct BufferedBatch: Sendable, Equatable {
    /// How the body is encoded and where it goes.
    package enum Kind: UInt8, Sendable {
        /// OTLP `ExportLogsServiceRequest` protobuf, to `/v1/logs`.
        case otlpLogs = 1
        /// Prometheus remote-write 1.0 protobuf, snappy-compressed, to `/api/v1/write`.
        case remoteWrite = 2
        /// OTLP `ExportTraceServiceRequest` protobuf, to `/v1/traces`.
        case otlpTraces = 3
        /// OTLP `ExportMetricsServiceRequest` protobuf, to `/v1/metrics`.
        case otlpMetrics = 4
        /// ``otlpLogs``, gzip-compressed.
        case otlpLogsGzip = 5
        /// ``otlpTraces``, gzip-compressed.
        case otlpTracesGzip = 6
        /// ``otlpLogs``, snappy-compressed (block format).
        case otlpLogsSnappy = 7
        /// ``otlpTraces``, snappy-compressed (block format).
        case otlpTracesSnappy = 8
    }

    package var kind: Kind
    package var positions: [FilePosition]
    package var body: [UInt8]

    package init(kind: Kind, positions: [FilePosition] = [], body: [UInt8]) {
        self.kind = kind
        self.positions = positions
        self.body = body
    }

    /// The frame payload.
    package func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: body.count + 16 + positions.count * 96)
        writer.writeByte(kind.rawValue)
        writer.writeVarint(UInt64(positions.count))
        for position in positions { position.write(to: &writer) }
        writer.writeRaw(body)
        return writer.bytes
    }

    /// Decodes ``encoded()``.
    /// - Throws: `dataCorrupted` for an unknown kind or a short frame.
    package init(decoding bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            let raw = try reader.readByte()
            guard let kind = Kind(rawValue: raw) else { throw SightlineError(.dataCorrupted, "unknown agent batch kind \(raw)") }
            let count = try reader.readCount()
            var positions: [FilePosition] = []
            for _ in 0..<count { positions.append(try FilePosition(reading: &reader)) }
            return BufferedBatch(kind: kind, positions: positions, body: Array(buffer[reader.offset...]))
        }
    }
}

/// How far a file has been read into the buffer.
package struct FilePosition: Sendable, Hashable {
    /// `device:inode`.
    package var key: String
    /// Bytes consumed: every line before this offset is in the buffer.
    package var offset: Int64
    /// The file's first bytes (up to ``FileTailer/fingerprintBytes``), to tell a reused inode from the old file.
    package var fingerprint: [UInt8]

    package init(key: String, offset: Int64, fingerprint: [UInt8]) {
        self.key = key
        self.offset = offset
        self.fingerprint = fingerprint
    }

    func write(to writer: inout ByteWriter) {
        writer.writeString(key)
        writer.writeVarint(UInt64(max(0, offset)))
        writer.writeBytes(fingerprint)
    }

    init(reading reader: inout ByteReader) throws {
        key = try reader.readString()
        offset = Int64(try reader.readVarint())
        fingerprint = try reader.readBytes()
    }
}
