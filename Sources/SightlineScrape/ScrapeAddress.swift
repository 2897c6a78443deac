/// A `host:port` scrape address, as in `__address__`: `localhost:9100`, `10.0.0.1:80`, `[::1]:9090`, or a host alone.
package struct ScrapeAddress: Sendable, Hashable {
    /// The host without brackets.
    package var host: String
    package var port: Int

    /// Creates an address from its parts.
    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses an address.
    /// - Parameters:
    ///   - address: The text.
    ///   - defaultPort: The port of an address without one.
    /// - Returns: nil when the text is empty, holds `/`, whitespace or a bad port.
    package init?(_ address: String, defaultPort: Int) {
        guard !address.isEmpty, !address.contains(where: { $0 == "/" || $0 == " " || $0 == "?" || $0 == "#" || $0 == "@" })
        else { return nil }
        var hostPart = Substring(address)
        var portPart: Substring?
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]") else { return nil }
            hostPart = address[address.index(after: address.startIndex)..<close]
            let rest = address[address.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                portPart = rest.dropFirst()
            }
        } else if let colon = address.lastIndex(of: ":") {
            guard address.firstIndex(of: ":") == colon else { return nil }  // Unbracketed IPv6.
            hostPart = address[..<colon]
            portPart = address[address.index(after: colon)...]
        }
        guard !hostPart.isEmpty else { return nil }
        if let portPart {
            guard let port = Int(portPart), port > 0, port < 65536 else { return nil }
            self.port = port
        } else {
            self.port = defaultPort
        }
        self.host = String(hostPart)
    }

    /// `host:port`, with brackets around an IPv6 host.
    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
