#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif

/// The lines of a text body, for the formats that put one record on a line (InfluxDB's line protocol,
/// VictoriaMetrics' JSON lines).
enum TextLines {
    /// Calls `visit` with each line's number (from 1) and bytes, without its `\n` or a `\r` before it; a last line
    /// without `\n` is visited too, nothing after a final `\n`.
    static func forEach(in body: UnsafeRawBufferPointer, _ visit: (_ number: Int, _ line: UnsafeRawBufferPointer) -> Void) {
        guard let base = body.baseAddress else { return }
        var start = 0
        var number = 0
        while start < body.count {
            let end = memchr(base + start, 0x0A, body.count - start).map { UnsafeRawPointer($0) - base } ?? body.count
            var lineEnd = end
            if lineEnd > start, body[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            number += 1
            visit(number, UnsafeRawBufferPointer(rebasing: body[start..<lineEnd]))
            start = end + 1
        }
    }
}
