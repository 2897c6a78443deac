import Foundation
import Glibc
import SightlineCore
import Synchronization

/// The agent's small blocking HTTP/1.1 listener: `GET /metrics` and the OTLP/HTTP receiver (`POST /v1/logs`,
/// `/v1/metrics`, `/v1/traces`). One thread accepts; each connection gets a thread that serves its requests in turn
/// (keep-alive), as local applications send a few requests per second at most.
package final class AgentHTTPServer: Sendable {
    /// A parsed request.
    package struct Request: Sendable {
        package var method: String
        package var path: String
        package var headers: [String: String]
        package var body: [UInt8]
    }

    /// What a handler answers.
    package struct Response: Sendable {
        package var status: Int
        package var contentType: String
        package var body: [UInt8]
        package init(status: Int, contentType: String = "text/plain; charset=utf-8", body: [UInt8]) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    private let fd: Int32
    private let maxBodyBytes: Int
    private let handler: @Sendable (Request) -> Response
    /// host:port it listens on.
    package let address: String

    /// Binds `host:port` (IPv4) and listens.
    /// - Throws: `configuration` for a bad host; `io` when binding fails.
    package init(host: String, port: Int, maxBodyBytes: Int = 16 << 20, handler: @escaping @Sendable (Request) -> Response) throws {
        address = "\(host):\(port)"
        self.maxBodyBytes = maxBodyBytes
        self.handler = handler
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SightlineError(.io, "socket for \(address): \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var sockaddress = sockaddr_in()
        sockaddress.sin_family = sa_family_t(AF_INET)
        sockaddress.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &sockaddress.sin_addr) == 1 else {
            Glibc.close(fd)
            throw SightlineError(.configuration, "\(address): \"\(host)\" is not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &sockaddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            throw SightlineError(.io, "cannot listen on \(address): \(message)")
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The port it listens on (useful after binding port 0).
    package var port: Int {
        var sockaddress = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &sockaddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return ok == 0 ? Int(UInt16(bigEndian: sockaddress.sin_port)) : 0
    }

    /// Accepts connections until `shouldStop` returns true, then closes the listener.
    package func run(shouldStop: @escaping @Sendable () -> Bool) {
        defer { Glibc.close(fd) }
        while !shouldStop() {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { continue }
            let thread = Thread { self.serve(client, shouldStop: shouldStop) }
            thread.name = "sightline-agent-http"
            thread.start()
        }
    }

    private func serve(_ client: Int32, shouldStop: @Sendable () -> Bool) {
        defer { Glibc.close(client) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        func fill() -> Bool {
            let got = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, 65536, 0) }
            guard got > 0 else { return false }
            pending.append(contentsOf: chunk.prefix(got))
            return true
        }
        while !shouldStop() {
            var headEnd: Int?
            while true {
                if let end = Self.find(pending) {
                    headEnd = end
                    break
                }
                guard pending.count < 65536, fill() else { return }
            }
            guard let end = headEnd else { return }
            let head = String(decoding: pending[..<end], as: UTF8.self)
            pending.removeFirst(end + 4)
            var lines = head.components(separatedBy: "\r\n")
            let requestLine = lines.removeFirst().split(separator: " ")
            guard requestLine.count >= 2 else { return }
            var headers: [String: String] = [:]
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            let response: Response
            if headers["transfer-encoding"] != nil {
                response = Response(status: 411, body: Array("send a Content-Length\n".utf8))
            } else if length > maxBodyBytes {
                response = Response(status: 413, body: Array("body of \(length) bytes exceeds \(maxBodyBytes)\n".utf8))
            } else {
                while pending.count < length { guard fill() else { return } }
                let body = Array(pending.prefix(length))
                pending.removeFirst(length)
                response = handler(Request(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers, body: body))
            }
            let close = headers["connection"]?.lowercased() == "close" || response.status == 411 || response.status == 413
            var out = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\nContent-Type: \(response.contentType)\r\n"
            out += "Content-Length: \(response.body.count)\r\n\(close ? "Connection: close\r\n" : "")\r\n"
            let bytes = Array(out.utf8) + response.body
            var sent = 0
            while sent < bytes.count {
                let n = bytes.withUnsafeBytes { buffer -> Int in
                    guard let base = buffer.baseAddress else { return -1 }
                    return Glibc.send(client, base + sent, buffer.count - sent, Int32(MSG_NOSIGNAL))
                }
                guard n > 0 else { return }
                sent += n
            }
            if close { return }
        }
    }

    private static func find(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 411: "Length Required"
        case 413: "Payload Too Large"
        case 415: "Unsupported Media Type"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
