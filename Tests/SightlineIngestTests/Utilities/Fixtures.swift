import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

/// Test fixtures: the shared OTLP conformance examples and base64-embedded binary payloads.
enum Fixtures {
    /// `../shared/conformance/otlp` next to the repository root.
    static let conformanceDirectory = SharedDirectory.url("conformance/otlp")

    /// The bytes of a conformance example; records a test failure (never a skip) when it is missing.
    static func conformance(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        let url = conformanceDirectory.appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            Issue.record("conformance example missing: \(url.path)", sourceLocation: sourceLocation)
            throw SightlineError(.notFound, "conformance example missing: \(url.path)")
        }
        return [UInt8](data)
    }
}

/// Decodes base64 chunks into bytes.
func bytes(_ chunks: [String]) -> [UInt8] {
    guard let decoded = Base64.decode(chunks.joined()) else {
        preconditionFailure("invalid base64 fixture")
    }
    return decoded
}
