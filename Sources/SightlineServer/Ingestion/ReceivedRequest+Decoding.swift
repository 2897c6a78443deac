import SightlineCore
import SightlineIngest

extension ReceivedRequest {
    /// The batch the request's handler made of it: the body decoded the same way, every record stamped with the
    /// observed time. WAL replay reads a request record through this.
    /// - Throws: the decoder's error when the body does not decode.
    func decoded() throws -> DecodedBatch {
        let batch = switch format {
        case .lokiJSON:
            try LokiPushDecoder.decode(json: body)
        case .lokiSnappyProtobuf:
            // The body was within the size limit when it was received; Snappy declares at most 4 GiB.
            try LokiPushDecoder.decode(snappyProtobuf: body, maxDecompressed: Int(UInt32.max))
        }
        return LokiPushHandler.stamped(batch, observedTimeUnixNano: observedTimeUnixNano)
    }
}
