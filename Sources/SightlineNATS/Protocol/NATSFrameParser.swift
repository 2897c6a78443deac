package import NIOCore
import SightlineCore

/// Splits the bytes a NATS server sends into frames, incrementally and at the byte level.
///
/// Control lines (`INFO`, `MSG`, `HMSG`, `PING`, `PONG`, `+OK`, `-ERR`) end with CRLF; `MSG` and `HMSG` are followed by
/// `<#bytes>` of headers and payload and another CRLF. The parser never turns a payload into a `String`: it hands out a
/// slice of the input buffer. Feed it whatever arrived; it returns nil until a whole frame is there, and remembers how
/// far it already searched for the line end and which message header it already parsed, so a large payload arriving
/// in many reads costs no rescans.
///
/// ```swift
/// var parser = NATSFrameParser()
/// while let frame = try parser.next(from: &buffer) { handle(frame) }
/// ```
package struct NATSFrameParser: Sendable {
    /// The longest control line accepted, CRLF excluded; longer input is an error rather than unbounded buffering.
    package var maxControlLineLength: Int
    /// The largest `MSG`/`HMSG` size accepted (a server's `max_payload` is at most 64 MiB).
    package var maxMessageLength: Int

    /// The parsed control line of a message whose bytes have not all arrived.
    private struct PendingMessage: Sendable {
        var subject: String
        var sid: UInt64
        var replyTo: String?
        /// Length of the header block; nil for `MSG`.
        var headerLength: Int?
        /// Header block plus payload.
        var totalLength: Int
    }

    private enum ControlLine {
        case frame(NATSServerFrame)
        case message(PendingMessage)
    }

    private var pending: PendingMessage?
    /// How many readable bytes are already known to hold no line feed.
    private var searched = 0

    /// A parser with the given limits.
    package init(maxControlLineLength: Int = 64 * 1024, maxMessageLength: Int = 64 * 1024 * 1024) {
        self.maxControlLineLength = maxControlLineLength
        self.maxMessageLength = maxMessageLength
    }

    /// The next whole frame at the start of `buffer`, consuming its bytes; nil (consuming nothing more) when the
    /// frame is not complete yet.
    /// - Throws: ``SightlineError`` (`.invalidArgument`) for an unknown operation, a malformed control line, a size
    ///   over the limits, or a message not followed by CRLF. The connection cannot continue after that.
    package mutating func next(from buffer: inout ByteBuffer) throws -> NATSServerFrame? {
        if pending == nil {
            let start = searched
            let lineFeed: Int? = buffer.withUnsafeReadableBytes { raw in
                raw[start...].firstIndex(of: 0x0A)
            }
            guard let lineFeed else {
                searched = buffer.readableBytes
                if searched > maxControlLineLength + 1 {
                    throw SightlineError(.invalidArgument, "NATS control line is longer than \(maxControlLineLength) bytes: \(Self.preview(buffer))")
                }
                return nil
            }
            searched = 0
            var end = lineFeed
            if end > 0, buffer.getInteger(at: buffer.readerIndex + end - 1, as: UInt8.self) == 0x0D { end -= 1 }
            if end > maxControlLineLength {
                throw SightlineError(.invalidArgument, "NATS control line is longer than \(maxControlLineLength) bytes: \(Self.preview(buffer))")
            }
            let line = try buffer.withUnsafeReadableBytes { raw in
                try parseControlLine(UnsafeRawBufferPointer(rebasing: raw[0..<end]))
            }
            buffer.moveReaderIndex(forwardBy: lineFeed + 1)
            switch line {
            case .frame(let frame): return frame
            case .message(let message): pending = message
            }
        }
        guard let message = pending, buffer.readableBytes >= message.totalLength + 2 else { return nil }
        let trailer = buffer.readerIndex + message.totalLength
        guard buffer.getInteger(at: trailer, as: UInt8.self) == 0x0D, buffer.getInteger(at: trailer + 1, as: UInt8.self) == 0x0A else {
            throw SightlineError(
                .invalidArgument,
                "NATS message on \(message.subject) is not followed by CRLF after its \(message.totalLength) bytes (the size in its control line is wrong)")
        }
        pending = nil
        var headers: NATSHeaders?
        var payloadLength = message.totalLength
        if let headerLength = message.headerLength {
            guard let block = buffer.readSlice(length: headerLength) else { preconditionFailure("length checked above") }
            headers = try NATSHeaders.parse(block.readableBytesView)
            payloadLength -= headerLength
        }
        guard let payload = buffer.readSlice(length: payloadLength) else { preconditionFailure("length checked above") }
        buffer.moveReaderIndex(forwardBy: 2)
        return .message(NATSMessage(subject: message.subject, sid: message.sid, replyTo: message.replyTo, headers: headers, payload: payload))
    }

    /// Parses one control line (without its line end).
    private func parseControlLine(_ line: UnsafeRawBufferPointer) throws -> ControlLine {
        var tokens: [Range<Int>] = []
        tokens.reserveCapacity(6)
        var index = 0
        while index < line.count {
            while index < line.count, line[index] == 0x20 || line[index] == 0x09 { index += 1 }
            let start = index
            while index < line.count, line[index] != 0x20, line[index] != 0x09 { index += 1 }
            if index > start { tokens.append(start..<index) }
        }
        guard let opRange = tokens.first else {
            throw SightlineError(.invalidArgument, "NATS server sent an empty control line")
        }
        let op = UnsafeRawBufferPointer(rebasing: line[opRange])
        func rest() -> String {
            let after = line[opRange.upperBound...].drop(while: { $0 == 0x20 || $0 == 0x09 })
            return String(decoding: after, as: UTF8.self)
        }
        if Self.equalsIgnoringCase(op, "MSG") {
            guard tokens.count == 4 || tokens.count == 5 else {
                throw SightlineError(.invalidArgument, "NATS MSG line needs 3 or 4 arguments, got \(tokens.count - 1): \(Self.text(line))")
            }
            let size = try Self.number(line, tokens[tokens.count - 1], what: "MSG size", limit: maxMessageLength)
            return .message(
                PendingMessage(
                    subject: String(decoding: line[tokens[1]], as: UTF8.self),
                    sid: UInt64(try Self.number(line, tokens[2], what: "MSG subscription id", limit: Int.max)),
                    replyTo: tokens.count == 5 ? String(decoding: line[tokens[3]], as: UTF8.self) : nil,
                    headerLength: nil, totalLength: size))
        }
        if Self.equalsIgnoringCase(op, "HMSG") {
            guard tokens.count == 5 || tokens.count == 6 else {
                throw SightlineError(.invalidArgument, "NATS HMSG line needs 4 or 5 arguments, got \(tokens.count - 1): \(Self.text(line))")
            }
            let headerLength = try Self.number(line, tokens[tokens.count - 2], what: "HMSG header size", limit: maxMessageLength)
            let total = try Self.number(line, tokens[tokens.count - 1], what: "HMSG total size", limit: maxMessageLength)
            guard headerLength <= total else {
                throw SightlineError(.invalidArgument, "NATS HMSG header size \(headerLength) is larger than its total size \(total): \(Self.text(line))")
            }
            return .message(
                PendingMessage(
                    subject: String(decoding: line[tokens[1]], as: UTF8.self),
                    sid: UInt64(try Self.number(line, tokens[2], what: "HMSG subscription id", limit: Int.max)),
                    replyTo: tokens.count == 6 ? String(decoding: line[tokens[3]], as: UTF8.self) : nil,
                    headerLength: headerLength, totalLength: total))
        }
        if Self.equalsIgnoringCase(op, "PING") { return .frame(.ping) }
        if Self.equalsIgnoringCase(op, "PONG") { return .frame(.pong) }
        if Self.equalsIgnoringCase(op, "+OK") { return .frame(.ok) }
        if Self.equalsIgnoringCase(op, "-ERR") {
            var message = rest()
            while let last = message.last, last == " " || last == "\t" { message.removeLast() }
            if message.count >= 2, message.hasPrefix("'"), message.hasSuffix("'") { message = String(message.dropFirst().dropLast()) }
            return .frame(.error(message))
        }
        if Self.equalsIgnoringCase(op, "INFO") {
            let json = rest()
            guard json.hasPrefix("{") else {
                throw SightlineError(.invalidArgument, "NATS INFO line does not carry a JSON object: \(Self.text(line))")
            }
            return .frame(.info(json))
        }
        throw SightlineError(.invalidArgument, "NATS server sent an unknown operation: \(Self.text(line))")
    }

    /// True when `bytes` spell `word` (uppercase ASCII) in any case.
    private static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ word: StaticString) -> Bool {
        guard bytes.count == word.utf8CodeUnitCount else { return false }
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        for index in 0..<bytes.count {
            var byte = bytes[index]
            if byte >= UInt8(ascii: "a"), byte <= UInt8(ascii: "z") { byte -= 32 }
            if byte != expected[index] { return false }
        }
        return true
    }

    /// A decimal number of at most `limit`, from the token at `range`.
    private static func number(_ line: UnsafeRawBufferPointer, _ range: Range<Int>, what: String, limit: Int) throws -> Int {
        var value = 0
        for index in range {
            let byte = line[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw SightlineError(.invalidArgument, "NATS \(what) \(JSONText.quoted(String(decoding: line[range], as: UTF8.self))) is not a decimal number: \(text(line))")
            }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2, sum <= limit else {
                throw SightlineError(.invalidArgument, "NATS \(what) \(String(decoding: line[range], as: UTF8.self)) is larger than \(limit): \(text(line))")
            }
            value = sum
        }
        return value
    }

    /// The control line for an error message, quoted and cut at 120 bytes.
    private static func text(_ line: UnsafeRawBufferPointer) -> String {
        JSONText.quoted(String(decoding: line.prefix(120), as: UTF8.self))
    }

    /// The start of `buffer` for an error message.
    private static func preview(_ buffer: ByteBuffer) -> String {
        JSONText.quoted(String(decoding: buffer.readableBytesView.prefix(120), as: UTF8.self))
    }
}

/// Feeds ``NATSFrameParser`` from a NIO pipeline.
struct NATSFrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = NATSServerFrame
    var parser: NATSFrameParser

    mutating func decode(buffer: inout ByteBuffer) throws -> NATSServerFrame? {
        try parser.next(from: &buffer)
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> NATSServerFrame? {
        try parser.next(from: &buffer)
    }
}
