import Glibc
import SightlineCore

/// A bound UDP or Unix datagram socket read by one blocking thread (StatsD packets).
///
/// Receives with a short timeout so the reading loop notices a stop, and asks for an 8 MiB receive buffer so bursts
/// wait in the kernel rather than being dropped while the aggregator holds its lock for a flush.
package final class DatagramSocket: @unchecked Sendable {
    /// The descriptor; valid until ``close()``.
    package let fd: Int32
    /// What it is bound to, for messages.
    package let name: String
    private let unixPath: String?

    /// Binds a UDP socket to `host:port` (IPv4).
    /// - Throws: `configuration` for a bad address; `io` when binding fails.
    package init(udpHost host: String, port: Int) throws {
        name = "udp \(host):\(port)"
        unixPath = nil
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SightlineError(.io, "socket for \(name): \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
            Glibc.close(fd)
            throw SightlineError(.configuration, "\(name): \"\(host)\" is not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            throw SightlineError(.io, "cannot bind \(name): \(message)")
        }
        configure()
    }

    /// Binds a Unix datagram socket at `path` (an old socket file there is replaced).
    /// - Throws: `io` when binding fails; `configuration` for a path longer than the kernel allows.
    package init(unixPath path: String) throws {
        name = "unix \(path)"
        unixPath = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SightlineError(.io, "socket for \(name): \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            Glibc.close(fd)
            throw SightlineError(.configuration, "\(name): the path is too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        unlink(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            throw SightlineError(.io, "cannot bind \(name): \(message)")
        }
        configure()
    }

    private func configure() {
        var size: Int32 = 8 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The UDP port actually bound (for port 0).
    package var boundPort: Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return ok == 0 ? Int(UInt16(bigEndian: address.sin_port)) : 0
    }

    /// Calls `body` with each datagram until `shouldStop` returns true.
    package func run(shouldStop: () -> Bool, _ body: (UnsafeRawBufferPointer) -> Void) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { buffer.deallocate() }
        while !shouldStop() {
            let got = recv(fd, buffer.baseAddress, 65536, 0)
            if got > 0 { body(UnsafeRawBufferPointer(rebasing: buffer[0..<got])) }
        }
    }

    /// Closes the socket (and removes a Unix socket's file).
    package func close() {
        Glibc.close(fd)
        if let unixPath { unlink(unixPath) }
    }
}
