import Foundation
import Glibc
package import SightlineCore

/// A small blocking HTTP/1.1 client for the sender thread: POSTs a body with a keep-alive connection and returns the
/// status. One request at a time per poster; any error closes the connection and the next call reconnects.
///
/// ``post(_:headers:body:)`` is ``send(_:headers:body:)`` then ``receive()``: the sender keeps a few posters and sends
/// on one while others wait for their answers, all from its one thread, with blocking sockets and no event loop (the
/// agent sends tens of requests per second, each large).
package final class HTTPPoster {
    /// The server's host and port.
    package let host: String
    package let port: Int
    /// Seconds a connect, send or receive may take.
    package let timeoutSeconds: Int
    private var fd: Int32 = -1

    /// The answer to one request.
    package struct Response: Sendable {
        package var status: Int
        package var body: [UInt8]
    }

    package init(host: String, port: Int, timeoutSeconds: Int = 30) {
        self.host = host
        self.port = port
        self.timeoutSeconds = timeoutSeconds
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Sends `POST path` with `headers` and `body`.
    /// - Throws: `unavailable` naming the server when connecting, sending or receiving fails.
    package func post(_ path: String, headers: [(String, String)], body: [UInt8]) throws -> Response {
        try send(path, headers: headers, body: body)
        return try receive()
    }

    /// Sends `POST path` with `headers` and `body`, without waiting for the answer (``receive()`` reads it).
    /// - Throws: `unavailable` naming the server when connecting or sending fails.
    package func send(_ path: String, headers: [(String, String)], body: [UInt8]) throws {
        sentPath = path
        do {
            if fd < 0 { try connect() }
            var head = "POST \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Length: \(body.count)\r\nUser-Agent: sightline-agent\r\n"
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            head += "\r\n"
            try write(Array(head.utf8))
            try write(body)
        } catch {
            disconnect()
            throw SightlineError(.unavailable, "POST http://\(host):\(port)\(path) failed: \(error)")
        }
    }

    /// Reads the answer to the request ``send(_:headers:body:)`` sent.
    /// - Throws: `unavailable` naming the server when receiving fails.
    package func receive() throws -> Response {
        do {
            return try readResponse()
        } catch {
            disconnect()
            throw SightlineError(.unavailable, "POST http://\(host):\(port)\(sentPath) failed: \(error)")
        }
    }

    /// Whether the answer to the request sent has begun to arrive (or the connection has ended, which
    /// ``receive()`` then reports) within `milliseconds`; true when nothing is connected, so ``receive()`` fails at once.
    package func answerArrives(withinMilliseconds milliseconds: Int32) -> Bool {
        guard fd >= 0 else { return true }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = Glibc.poll(&entry, 1, milliseconds)
        return ready != 0  // an error (EINTR included) lets receive() decide
    }

    /// The path of the last request sent, for errors.
    private var sentPath = ""

    /// Closes the connection.
    package func disconnect() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    private func connect() throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(host, String(port), &hints, &result)
        guard code == 0, let first = result else {
            throw SightlineError(.unavailable, "cannot resolve \(host): \(String(cString: gai_strerror(code)))")
        }
        defer { freeaddrinfo(result) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        var lastError = ECONNREFUSED
        while let info = entry {
            let socketFD = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            if socketFD >= 0 {
                var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
                setsockopt(socketFD, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(socketFD, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var one: Int32 = 1
                setsockopt(socketFD, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                if Glibc.connect(socketFD, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                    fd = socketFD
                    return
                }
                lastError = errno
                Glibc.close(socketFD)
            }
            entry = info.pointee.ai_next
        }
        throw SightlineError(.unavailable, "cannot connect to \(host):\(port): \(String(cString: strerror(lastError)))")
    }

    private func write(_ bytes: [UInt8]) throws {
        var sent = 0
        try bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while sent < buffer.count {
                let n = Glibc.send(fd, base + sent, buffer.count - sent, Int32(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw SightlineError(.unavailable, "send: \(String(cString: strerror(errno)))") }
                sent += n
            }
        }
    }

    private var pending: [UInt8] = []

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 16384)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 16384, 0) }
        if n < 0 && errno == EINTR { return }
        guard n > 0 else { throw SightlineError(.unavailable, n == 0 ? "connection closed" : "recv: \(String(cString: strerror(errno)))") }
        pending.append(contentsOf: chunk.prefix(n))
    }

    /// Reads one response: status line, headers, then a Content-Length or chunked body.
    private func readResponse() throws -> Response {
        pending.removeAll(keepingCapacity: true)
        var headerEnd: Int?
        while headerEnd == nil {
            try fill()
            headerEnd = Self.find([13, 10, 13, 10], in: pending)
        }
        guard let end = headerEnd else { throw SightlineError(.unavailable, "no response head") }
        let head = String(decoding: pending[..<end], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw SightlineError(.unavailable, "malformed status line \"\(head.prefix(80))\"")
        }
        var contentLength = 0
        var chunked = false
        var close = false
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "content-length" { contentLength = Int(value) ?? 0 }
            if name == "transfer-encoding" && value.lowercased().contains("chunked") { chunked = true }
            if name == "connection" && value.lowercased() == "close" { close = true }
        }
        var body = Array(pending[(end + 4)...])
        if chunked {
            // Read until the terminating zero-size chunk, then decode.
            while Self.find(Array("\r\n0\r\n\r\n".utf8), in: body) == nil && !(body.starts(with: Array("0\r\n\r\n".utf8))) {
                pending.removeAll(keepingCapacity: true)
                try fill()
                body.append(contentsOf: pending)
            }
            body = Self.dechunk(body)
        } else {
            while body.count < contentLength {
                pending.removeAll(keepingCapacity: true)
                try fill()
                body.append(contentsOf: pending)
            }
        }
        if close { disconnect() }
        return Response(status: status, body: body)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start }
        }
        return nil
    }

    private static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while let lineEnd = find([13, 10], in: Array(bytes[index...])) {
            let sizeText = String(decoding: bytes[index..<(index + lineEnd)], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0 else { break }
            let start = index + lineEnd + 2
            guard start + size <= bytes.count else { break }
            out.append(contentsOf: bytes[start..<(start + size)])
            index = start + size + 2
            guard index < bytes.count else { break }
        }
        return out
    }
}
