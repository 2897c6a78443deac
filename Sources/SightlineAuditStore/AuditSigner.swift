import Crypto
import Glibc
import SightlineCore
import SightlineStorageCore

/// The Ed25519 key that signs digests and retention records, kept in the audit directory
/// (`signing-key.ed25519`, the raw 32-byte private key, mode 0600) and created on first start.
///
/// Customers keep the public key (``publicKeyPEM``) to check digests themselves, as with CloudTrail's digest files.
/// Package-visible so that the ClickHouse audit store signs its digests with the same server key.
package struct AuditSigner: Sendable {
    static let fileName = "signing-key.ed25519"

    private let key: Curve25519.Signing.PrivateKey

    /// Loads the key in `directory`, or creates and stores a new one.
    package init(directory: String) throws {
        let path = directory + "/" + Self.fileName
        if access(path, F_OK) == 0 {
            let raw = try POSIXFile.readAll(path)
            do {
                key = try Curve25519.Signing.PrivateKey(rawRepresentation: raw)
            } catch {
                throw SightlineError(.dataCorrupted, "audit signing key \(path) is not a 32-byte Ed25519 private key", cause: error)
            }
        } else {
            key = Curve25519.Signing.PrivateKey()
            let temporary = path + ".tmp"
            let fd = try POSIXFile.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            defer { POSIXFile.close(fd) }
            let raw = Array(key.rawRepresentation)
            try raw.withUnsafeBytes { try POSIXFile.writeAll(fd, $0, path: temporary) }
            try POSIXFile.fsync(fd, path: temporary)
            guard rename(temporary, path) == 0 else { throw POSIXFile.error("rename", temporary) }
            try POSIXFile.fsyncDirectory(directory)
        }
    }

    package func sign(_ payload: [UInt8]) throws -> [UInt8] {
        Array(try key.signature(for: payload))
    }

    /// The raw 32-byte public key.
    package var publicKey: [UInt8] { Array(key.publicKey.rawRepresentation) }

    /// Whether `signature` is this key's signature of `payload`.
    func isValid(signature: [UInt8], for payload: [UInt8]) -> Bool {
        key.publicKey.isValidSignature(signature, for: payload)
    }

    /// The public key as PEM (SubjectPublicKeyInfo), what `openssl pkey -pubin` and every crypto library read.
    package var publicKeyPEM: String { Self.pem(publicKey: publicKey) }

    /// A raw 32-byte Ed25519 public key as PEM (SubjectPublicKeyInfo).
    package static func pem(publicKey: [UInt8]) -> String {
        // SubjectPublicKeyInfo for Ed25519 (RFC 8410): SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING key }.
        let prefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]
        let base64 = Base64.encode(prefix + publicKey)
        return "-----BEGIN PUBLIC KEY-----\n" + base64 + "\n-----END PUBLIC KEY-----\n"
    }

    /// Whether `signature` is a valid signature of `payload` by the raw Ed25519 `publicKey` (false for a key that is
    /// not 32 bytes): how digests signed by other servers are checked.
    package static func isValid(signature: [UInt8], for payload: [UInt8], publicKey: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(signature, for: payload)
    }
}
