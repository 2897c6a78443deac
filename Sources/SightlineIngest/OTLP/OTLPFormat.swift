/// The two encodings of OTLP over HTTP.
package enum OTLPFormat: Sendable, Hashable, CustomStringConvertible {
    /// Binary protobuf, `application/x-protobuf` (also the gRPC payload format).
    case protobuf
    /// The OTLP/JSON mapping, `application/json`.
    case json

    /// Picks the format from a `Content-Type` header value; nil for other media types.
    /// - Parameter contentType: e.g. `application/json; charset=utf-8`.
    package init?(contentType: String) {
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces().lowercased() } ?? ""
        switch mediaType {
        case "application/x-protobuf", "application/protobuf": self = .protobuf
        case "application/json": self = .json
        default: return nil
        }
    }

    package var description: String {
        switch self {
        case .protobuf: "protobuf"
        case .json: "json"
        }
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
