/// The owner of every record. Tenants never see each other's data.
///
/// A tenant id is 1–64 characters of `A-Z a-z 0-9 _ - .`, so it is safe in file names, URLs and labels.
package struct Tenant: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The id as written in the configuration and in stored records.
    package let id: String

    /// The single tenant served when no tokens are configured.
    package static let `default` = Tenant(uncheckedID: "default")

    /// Creates a tenant after checking its id.
    /// - Throws: ``SightlineError`` with code `.invalidArgument` naming the id when it is empty, too long or has other characters.
    package init(_ id: String) throws {
        guard Self.isValid(id) else {
            throw SightlineError(.invalidArgument, "tenant id \"\(id)\" is invalid: use 1 to 64 characters of A-Z, a-z, 0-9, '_', '-' and '.'")
        }
        self.id = id
    }

    /// Creates a tenant whose id the caller has already checked (decoded from our own storage).
    package init(uncheckedID id: String) {
        self.id = id
    }

    /// Whether `id` is a valid tenant id.
    package static func isValid(_ id: String) -> Bool {
        guard !id.isEmpty, id.utf8.count <= 64 else { return false }
        return id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x2D || byte == 0x2E
        }
    }

    package var description: String { id }

    package static func < (lhs: Tenant, rhs: Tenant) -> Bool { lhs.id < rhs.id }
}
