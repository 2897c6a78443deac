import SightlineCore
import SightlineIngest

/// The bodies OTLP answers with: `Export*ServiceResponse` (with `partial_success` when records were rejected) and
/// `google.rpc.Status` for errors, in protobuf or JSON like the request.
enum OTLPResponse {
    /// The JSON name of the rejected-count field of each signal's partial success.
    private static func rejectedField(_ signal: Signal) -> String {
        switch signal {
        case .logs: "rejectedLogRecords"
        case .metrics: "rejectedDataPoints"
        case .traces: "rejectedSpans"
        }
    }

    /// An export response. Field 1 of every `Export*ServiceResponse` is `partial_success`, whose field 1 is the
    /// rejected count (int64) and field 2 the error message.
    static func export(_ signal: Signal, rejected: Int, message: String, format: OTLPFormat) -> [UInt8] {
        switch format {
        case .json:
            guard rejected > 0 || !message.isEmpty else { return Array("{}".utf8) }
            var out = "{\"partialSuccess\":{\"\(rejectedField(signal))\":\"\(rejected)\",\"errorMessage\":"
            JSONText.appendString(message, to: &out)
            out += "}}"
            return Array(out.utf8)
        case .protobuf:
            guard rejected > 0 || !message.isEmpty else { return [] }
            var inner = ByteWriter()
            if rejected > 0 {
                inner.writeVarint(1 << 3 | 0)
                inner.writeVarint(UInt64(rejected))
            }
            if !message.isEmpty {
                inner.writeVarint(2 << 3 | 2)
                inner.writeString(message)
            }
            var outer = ByteWriter()
            outer.writeVarint(1 << 3 | 2)
            outer.writeBytes(inner.bytes)
            return outer.bytes
        }
    }

    /// A `google.rpc.Status` with a gRPC code (3 invalid argument, 16 unauthenticated, …) and message.
    static func status(code: Int, message: String, format: OTLPFormat) -> [UInt8] {
        switch format {
        case .json:
            var out = "{\"code\":\(code),\"message\":"
            JSONText.appendString(message, to: &out)
            out += "}"
            return Array(out.utf8)
        case .protobuf:
            var w = ByteWriter()
            w.writeVarint(1 << 3 | 0)
            w.writeVarint(UInt64(code))
            w.writeVarint(2 << 3 | 2)
            w.writeString(message)
            return w.bytes
        }
    }

    /// The gRPC status code for an error code.
    static func grpcCode(_ code: SightlineError.Code) -> Int {
        switch code {
        case .invalidArgument, .configuration: 3
        case .notFound: 5
        case .permissionDenied: 7
        case .tooLarge: 8
        case .unsupportedMediaType: 3
        case .unavailable: 14
        case .unauthenticated: 16
        default: 13
        }
    }
}
