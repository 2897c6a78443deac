import Crypto
package import SightlineCore
import SightlineStorageCore

/// The on-disk layout of a tenant's audit trail. Every file is append-only and framed the same way.
///
/// - A **segment** (`seg-<first seq, 20 digits>.log`): the header `SLAUDIT1`, the tenant, the first seq and the hash
///   the chain had before it; then records, each `[u32 LE payload length][payload][32-byte hash]` where the payload
///   is the event's canonical encoding (``SightlineCore/ByteWriter/writeAuditEvent(_:)``) and
///   `hash = SHA-256(previous hash ‖ payload)`; the chain starts from 32 zero bytes.
/// - **Digests** (`digests.log`): signed statements "the chain of tenant T had hash H at seq N", each also naming the
///   hash of the digest before it, so digests form a chain of their own: `[u32 LE length][payload][64-byte Ed25519
///   signature of the payload]`.
/// - **Retention records** (`retention.log`): signed statements that seqs A…B were dropped by retention, with the
///   hashes before and after them, so verification can bridge the gap. Same framing as digests.
enum AuditFormat {
    static let segmentMagic: [UInt8] = Array("SLAUDIT1".utf8)
    static let digestMagic: [UInt8] = Array("SLDIGST1".utf8)
    static let retentionMagic: [UInt8] = Array("SLRETEN1".utf8)
    static let hashSize = 32
    static let signatureSize = 64
    /// The hash before the first event of every tenant.
    static let genesisHash = [UInt8](repeating: 0, count: hashSize)

    static func segmentName(firstSeq: UInt64) -> String {
        let digits = String(firstSeq)
        return "seg-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    /// The first seq of a segment file name, or nil for other files.
    static func firstSeq(ofSegmentNamed name: String) -> UInt64? {
        guard name.hasPrefix("seg-"), name.hasSuffix(".log") else { return nil }
        return UInt64(name.dropFirst(4).dropLast(4))
    }

    /// SHA-256 over `previous` then `payload`.
    static func chainHash(previous: [UInt8], payload: UnsafeRawBufferPointer) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: previous)
        hasher.update(bufferPointer: payload)
        return Array(hasher.finalize())
    }

    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

    /// A segment header.
    struct SegmentHeader: Equatable {
        var tenant: Tenant
        var firstSeq: UInt64
        var previousHash: [UInt8]

        func encoded() -> [UInt8] {
            var writer = ByteWriter(capacity: 80)
            writer.writeRaw(AuditFormat.segmentMagic)
            writer.writeString(tenant.id)
            writer.writeUInt64LE(firstSeq)
            writer.writeRaw(previousHash)
            return writer.bytes
        }

        /// Reads the header at the start of a segment's bytes; returns it and where the records begin.
        static func parse(_ bytes: [UInt8]) throws -> (header: SegmentHeader, end: Int) {
            try bytes.withUnsafeBytes { buffer in
                var reader = ByteReader(buffer)
                let header = try read(&reader)
                return (header, reader.offset)
            }
        }

        /// Reads a header at the start of `reader`.
        static func read(_ reader: inout ByteReader) throws -> SegmentHeader {
            try reader.expect(magic: AuditFormat.segmentMagic, of: "an audit segment")
            let tenant = try reader.readString()
            let first = try reader.readUInt64LE()
            let previous = try reader.readRaw(AuditFormat.hashSize)
            return SegmentHeader(tenant: Tenant(uncheckedID: tenant), firstSeq: first, previousHash: previous)
        }
    }

    /// One record of a segment as found in its bytes.
    struct RawRecord {
        /// Byte offset of the record in the file.
        var offset: Int
        /// Byte range of the payload in the file.
        var payload: Range<Int>
        var storedHash: [UInt8]
        /// Bytes the record takes, framing included.
        var size: Int { payload.count + 4 + AuditFormat.hashSize }

        /// The stored event, decoded from the bytes the record was split from.
        func decode(in bytes: [UInt8]) throws -> StoredAuditEvent {
            try bytes.withUnsafeBytes { buffer in
                var reader = ByteReader(UnsafeRawBufferPointer(rebasing: buffer[payload]))
                return try reader.readAuditEvent(hash: storedHash)
            }
        }

        /// The hash the record's payload chains to after `previous` (what ``storedHash`` must be).
        func chainHash(after previous: [UInt8], in bytes: [UInt8]) -> [UInt8] {
            bytes.withUnsafeBytes { AuditFormat.chainHash(previous: previous, payload: UnsafeRawBufferPointer(rebasing: $0[payload])) }
        }
    }

    /// The little-endian u32 at `offset`: the length prefix of every framed entry.
    static func uint32LE(_ bytes: [UInt8], at offset: Int) -> Int {
        Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
    }

    /// The segment files of a tenant directory, by first seq.
    static func segmentPaths(in directory: String) throws -> [String] {
        try POSIXFile.listDirectory(directory).compactMap { name in firstSeq(ofSegmentNamed: name).map { ($0, name) } }
            .sorted { $0.0 < $1.0 }.map { directory + "/" + $0.1 }
    }

    /// Splits `bytes` (from `start`) into records; stops at the first record that does not fit, returning where
    /// that incomplete tail begins (the file's end when every record is whole).
    static func records(in bytes: [UInt8], from start: Int) -> (records: [RawRecord], end: Int) {
        var records: [RawRecord] = []
        var offset = start
        while offset + 4 <= bytes.count {
            let length = uint32LE(bytes, at: offset)
            let payloadStart = offset + 4
            let hashStart = payloadStart + length
            guard length > 0, hashStart + hashSize <= bytes.count else { break }
            records.append(RawRecord(offset: offset, payload: payloadStart..<hashStart, storedHash: Array(bytes[hashStart..<hashStart + hashSize])))
            offset = hashStart + hashSize
        }
        return (records, offset)
    }

    /// Frames one record.
    static func appendRecord(payload: [UInt8], hash: [UInt8], to out: inout [UInt8]) {
        let length = UInt32(payload.count)
        out.append(UInt8(truncatingIfNeeded: length))
        out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length >> 16))
        out.append(UInt8(truncatingIfNeeded: length >> 24))
        out.append(contentsOf: payload)
        out.append(contentsOf: hash)
    }
}

/// A signed statement of where a tenant's chain stood: what customers can check with the exported public key.
package struct AuditDigest: Sendable, Equatable {
    package var tenant: Tenant
    /// The last seq the digest covers.
    package var seq: UInt64
    /// The chain's hash at ``seq``.
    package var hash: [UInt8]
    package var createdNano: Int64
    /// SHA-256 of the previous digest's signed bytes (payload and signature); zeros for the first.
    package var previousDigestHash: [UInt8]
    /// The exact bytes that were signed.
    package var payload: [UInt8]
    /// Ed25519 signature of ``payload``.
    package var signature: [UInt8]
    /// The chain the digest pins when a tenant has several (the ClickHouse store: one per writing server); nil for
    /// the embedded store's single chain. Not part of the signed bytes: the hash already pins the chain's content.
    package var chain: String? = nil
    /// The raw Ed25519 key that checks ``signature`` when it is not this server's own (ClickHouse: each writer's).
    package var publicKey: [UInt8]? = nil

    /// SHA-256 of this digest's signed bytes, what the next digest names.
    package var chainHash: [UInt8] { AuditFormat.sha256(payload + signature) }

    /// Signs a new digest of a chain that stands at `seq` with `hash`, following the digest whose ``chainHash`` is
    /// `previousDigestHash` (``AuditChain/genesisHash`` for the first).
    package static func sign(
        tenant: Tenant, seq: UInt64, hash: [UInt8], createdNano: Int64, previousDigestHash: [UInt8], signer: AuditSigner
    ) throws -> AuditDigest {
        let payload = payload(tenant: tenant, seq: seq, hash: hash, createdNano: createdNano, previousDigestHash: previousDigestHash)
        return AuditDigest(
            tenant: tenant, seq: seq, hash: hash, createdNano: createdNano, previousDigestHash: previousDigestHash, payload: payload,
            signature: try signer.sign(payload), chain: nil, publicKey: signer.publicKey)
    }

    static func payload(tenant: Tenant, seq: UInt64, hash: [UInt8], createdNano: Int64, previousDigestHash: [UInt8]) -> [UInt8] {
        var writer = ByteWriter(capacity: 128)
        writer.writeRaw(AuditFormat.digestMagic)
        writer.writeString(tenant.id)
        writer.writeUInt64LE(seq)
        writer.writeRaw(hash)
        writer.writeSignedVarint(createdNano)
        writer.writeRaw(previousDigestHash)
        return writer.bytes
    }

    /// Reads a digest back from its signed bytes.
    /// - Throws: `dataCorrupted` when the payload is not a digest.
    package static func decode(payload: [UInt8], signature: [UInt8]) throws -> AuditDigest {
        try payload.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            try reader.expect(magic: AuditFormat.digestMagic, of: "an audit digest")
            let tenant = Tenant(uncheckedID: try reader.readString())
            let seq = try reader.readUInt64LE()
            let hash = try reader.readRaw(AuditFormat.hashSize)
            let created = try reader.readSignedVarint()
            let previous = try reader.readRaw(AuditFormat.hashSize)
            return AuditDigest(
                tenant: tenant, seq: seq, hash: hash, createdNano: created, previousDigestHash: previous, payload: payload, signature: signature)
        }
    }
}

/// A signed statement that retention dropped seqs ``firstSeq``…``lastSeq``, with the chain's hash before and after.
struct AuditRetentionRecord: Equatable {
    var tenant: Tenant
    var firstSeq: UInt64
    var lastSeq: UInt64
    var previousHash: [UInt8]
    var lastHash: [UInt8]
    var droppedNano: Int64
    var payload: [UInt8]
    var signature: [UInt8]

    static func payload(tenant: Tenant, firstSeq: UInt64, lastSeq: UInt64, previousHash: [UInt8], lastHash: [UInt8], droppedNano: Int64) -> [UInt8] {
        var writer = ByteWriter(capacity: 128)
        writer.writeRaw(AuditFormat.retentionMagic)
        writer.writeString(tenant.id)
        writer.writeUInt64LE(firstSeq)
        writer.writeUInt64LE(lastSeq)
        writer.writeRaw(previousHash)
        writer.writeRaw(lastHash)
        writer.writeSignedVarint(droppedNano)
        return writer.bytes
    }

    static func decode(payload: [UInt8], signature: [UInt8]) throws -> AuditRetentionRecord {
        try payload.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            try reader.expect(magic: AuditFormat.retentionMagic, of: "an audit retention record")
            return AuditRetentionRecord(
                tenant: Tenant(uncheckedID: try reader.readString()), firstSeq: try reader.readUInt64LE(), lastSeq: try reader.readUInt64LE(),
                previousHash: try reader.readRaw(AuditFormat.hashSize), lastHash: try reader.readRaw(AuditFormat.hashSize),
                droppedNano: try reader.readSignedVarint(), payload: payload, signature: signature)
        }
    }
}

/// Reads and appends the signed-statement files (digests, retention records): `[u32 LE length][payload][signature]`.
enum SignedLog {
    static func frame(payload: [UInt8], signature: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        AuditFormat.appendRecord(payload: payload, hash: [], to: &out)
        return out + signature
    }

    /// The (payload, signature) pairs of a file; a torn last entry is ignored, as it was never acknowledged.
    static func entries(_ bytes: [UInt8]) -> [(payload: [UInt8], signature: [UInt8])] {
        var out: [(payload: [UInt8], signature: [UInt8])] = []
        var offset = 0
        while offset + 4 <= bytes.count {
            let length = AuditFormat.uint32LE(bytes, at: offset)
            let end = offset + 4 + length + AuditFormat.signatureSize
            guard length > 0, end <= bytes.count else { break }
            out.append((Array(bytes[offset + 4..<offset + 4 + length]), Array(bytes[offset + 4 + length..<end])))
            offset = end
        }
        return out
    }
}

extension ByteReader {
    /// Reads the bytes `magic` and throws `dataCorrupted` ("not <what>: bad magic") when they differ.
    mutating func expect(magic: [UInt8], of what: String) throws {
        guard try readRaw(magic.count) == magic else { throw SightlineError(.dataCorrupted, "not \(what): bad magic") }
    }

    /// Reads exactly `count` raw bytes.
    mutating func readRaw(_ count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        for _ in 0..<count { out.append(try readByte()) }
        return out
    }
}
