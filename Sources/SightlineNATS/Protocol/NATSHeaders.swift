import SightlineCore

/// The header block of a NATS message (`HPUB`/`HMSG`): an optional status line and fields in the order they were written.
///
/// The wire form is `NATS/1.0[ <status>[ <description>]]\r\n` then `Name: value\r\n` per field, then an empty line.
/// JetStream uses the status for flow control of pull requests (`404 No Messages`, `408 Request Timeout`) and the server
/// for `503` (no responders to a request). Names keep their case; ``subscript(_:)`` matches exactly first, then ignoring
/// ASCII case, because clients in other languages canonicalize names differently.
package struct NATSHeaders: Sendable, Equatable {
    /// The status code of the first line, e.g. 404; nil when the line is only `NATS/1.0`.
    package var status: Int?
    /// The text after the status code, e.g. "No Messages"; empty when absent.
    package var statusDescription: String
    /// The fields in wire order; a name may repeat.
    package var fields: [(name: String, value: String)]

    /// A header block with `fields` and no status.
    package init(_ fields: [(name: String, value: String)] = [], status: Int? = nil, statusDescription: String = "") {
        self.fields = fields
        self.status = status
        self.statusDescription = statusDescription
    }

    /// The value of the first field named `name`, or nil.
    package subscript(_ name: String) -> String? {
        if let exact = fields.first(where: { $0.name == name }) { return exact.value }
        let lowered = name.lowercased()
        return fields.first(where: { $0.name.lowercased() == lowered })?.value
    }

    /// Appends a field (existing fields of the same name stay).
    package mutating func append(_ name: String, _ value: String) {
        fields.append((name, value))
    }

    /// True when there is neither a status nor a field.
    package var isEmpty: Bool { status == nil && fields.isEmpty }

    package static func == (lhs: NATSHeaders, rhs: NATSHeaders) -> Bool {
        lhs.status == rhs.status && lhs.statusDescription == rhs.statusDescription
            && lhs.fields.elementsEqual(rhs.fields, by: { $0.name == $1.name && $0.value == $1.value })
    }

    /// The wire form, ending with the empty line. Throws when a name or value could break the framing.
    package func encoded() throws -> [UInt8] {
        var out = Array("NATS/1.0".utf8)
        if let status {
            out.append(0x20)
            out.append(contentsOf: String(status).utf8)
            if !statusDescription.isEmpty {
                out.append(0x20)
                out.append(contentsOf: statusDescription.utf8)
            }
        }
        out.append(contentsOf: [0x0D, 0x0A])
        for field in fields {
            guard !field.name.isEmpty,
                field.name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") })
            else {
                throw SightlineError(.invalidArgument, "NATS header name \(JSONText.quoted(field.name)) is empty or has a space, colon or control character")
            }
            guard !field.value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) else {
                throw SightlineError(.invalidArgument, "NATS header \(field.name) has a line break in its value")
            }
            out.append(contentsOf: field.name.utf8)
            out.append(contentsOf: [UInt8(ascii: ":"), 0x20])
            out.append(contentsOf: field.value.utf8)
            out.append(contentsOf: [0x0D, 0x0A])
        }
        out.append(contentsOf: [0x0D, 0x0A])
        return out
    }

    /// Parses a header block as it arrives in `HMSG` (the `<#header bytes>` part, with its final empty line).
    /// - Throws: ``SightlineError`` (`.invalidArgument`) when the version line or a field is malformed.
    package static func parse(_ bytes: some Collection<UInt8>) throws -> NATSHeaders {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)[...]
        guard let first = lines.popFirst(), first.hasPrefix("NATS/1.0") else {
            throw SightlineError(.invalidArgument, "NATS header block does not start with NATS/1.0: \(JSONText.quoted(String(text.prefix(40))))")
        }
        var headers = NATSHeaders()
        let statusPart = first.dropFirst("NATS/1.0".count).drop(while: { $0 == " " || $0 == "\t" })
        if !statusPart.isEmpty {
            let code = statusPart.prefix(while: { $0 != " " && $0 != "\t" })
            guard let status = Int(code) else {
                throw SightlineError(.invalidArgument, "NATS header status \(JSONText.quoted(String(code))) is not a number")
            }
            headers.status = status
            headers.statusDescription = String(statusPart.dropFirst(code.count).drop(while: { $0 == " " || $0 == "\t" }))
        }
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else {
                throw SightlineError(.invalidArgument, "NATS header line \(JSONText.quoted(String(line))) has no colon")
            }
            let name = String(line[..<colon])
            let value = line[line.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" })
            headers.fields.append((name, String(value)))
        }
        return headers
    }
}
