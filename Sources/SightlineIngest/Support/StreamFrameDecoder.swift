import SightlineCore

/// Splits a TCP byte stream into messages.
///
/// With ``Framing/syslog``, both framings of RFC 6587, chosen per message as rsyslog does: octet counting
/// (`MSG-LEN SP MSG`, the length a decimal without leading zero) when a frame starts with a digit, otherwise
/// non-transparent framing that ends a message at LF (or NUL). With ``Framing/lines``, every message ends at LF (or
/// NUL), as in Graphite's and OpenTSDB's plaintext protocols.
///
/// ```swift
/// var decoder = StreamFrameDecoder(.syslog, maxFrameBytes: 1 << 20)
/// decoder.append(bytesFromSocket)
/// while let frame = try decoder.next() { handle(frame) }
/// ```
package struct StreamFrameDecoder: Sendable {
    package enum Framing: Sendable {
        /// RFC 6587: octet counting or newlines, per message.
        case syslog
        /// Newlines only.
        case lines
    }

    package let framing: Framing
    /// The longest message accepted; a longer one is an error, the connection is not in sync any more.
    package let maxFrameBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0

    package init(_ framing: Framing, maxFrameBytes: Int) {
        self.framing = framing
        self.maxFrameBytes = maxFrameBytes
    }

    /// Whether a message starting with `byte` is octet-counted.
    private func isCounted(_ byte: UInt8) -> Bool {
        framing == .syslog && byte >= 0x31 && byte <= 0x39
    }

    /// Adds bytes read from the connection.
    package mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0, start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete message, or nil when more bytes are needed.
    /// - Throws: `invalidArgument` when an octet count is malformed or a message exceeds ``maxFrameBytes``.
    package mutating func next() throws -> ArraySlice<UInt8>? {
        // Empty lines between messages carry nothing.
        while start < buffer.count, buffer[start] == 0x0A || buffer[start] == 0x0D || buffer[start] == 0 { start += 1 }
        guard start < buffer.count else { return nil }
        if isCounted(buffer[start]) {
            var index = start
            var length = 0
            while index < buffer.count, buffer[index] >= 0x30, buffer[index] <= 0x39 {
                length = length * 10 + Int(buffer[index] - 0x30)
                index += 1
                guard length <= maxFrameBytes else {
                    throw SightlineError(.invalidArgument, "frame of \(length)+ bytes exceeds the limit of \(maxFrameBytes)")
                }
            }
            guard index < buffer.count else { return nil }
            guard buffer[index] == 0x20 else {
                throw SightlineError(.invalidArgument, "malformed octet count: a digit run is followed by byte \(buffer[index]), not a space")
            }
            let end = index + 1 + length
            guard end <= buffer.count else { return nil }
            defer { start = end }
            return buffer[(index + 1)..<end]
        }
        guard let end = buffer[start...].firstIndex(where: { $0 == 0x0A || $0 == 0 }) else {
            if buffer.count - start > maxFrameBytes {
                throw SightlineError(.invalidArgument, "line of more than \(maxFrameBytes) bytes without a newline")
            }
            return nil
        }
        guard end - start <= maxFrameBytes else {
            throw SightlineError(.invalidArgument, "line of \(end - start) bytes exceeds the limit of \(maxFrameBytes)")
        }
        defer { start = end + 1 }
        return buffer[start..<end]
    }

    /// What is left when the connection closes: a last message without its newline, if any. A cut
    /// octet-counted frame is incomplete and gives nil.
    package mutating func finish() -> ArraySlice<UInt8>? {
        while start < buffer.count, buffer[start] == 0x0A || buffer[start] == 0x0D || buffer[start] == 0 { start += 1 }
        guard start < buffer.count, !isCounted(buffer[start]) else { return nil }
        defer { start = buffer.count }
        return buffer[start...]
    }
}
