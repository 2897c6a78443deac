import SightlineCore
import SightlineIngest

extension ReceivedRequest {
    /// The batch the request's handler made of it: the body decoded the same way, and for a Loki push or a bulk
    /// request every record stamped with the observed time. WAL replay reads a request record through this.
    /// - Throws: the decoder's error when the body does not decode.
    func decoded() throws -> DecodedBatch {
        switch format {
        case .lokiJSON:
            return LokiPushHandler.stamped(try LokiPushDecoder.decode(json: body), observedTimeUnixNano: observedTimeUnixNano)
        case .lokiSnappyProtobuf:
            // The body was within the size limit when it was received; Snappy declares at most 4 GiB.
            let batch = try LokiPushDecoder.decode(snappyProtobuf: body, maxDecompressed: Int(UInt32.max))
            return LokiPushHandler.stamped(batch, observedTimeUnixNano: observedTimeUnixNano)
        case .otlpLogsProtobuf: return try OTLPDecoder.decode(.logs, body: body, format: .protobuf)
        case .otlpLogsJSON: return try OTLPDecoder.decode(.logs, body: body, format: .json)
        case .otlpTracesProtobuf: return try OTLPDecoder.decode(.traces, body: body, format: .protobuf)
        case .otlpTracesJSON: return try OTLPDecoder.decode(.traces, body: body, format: .json)
        case .elasticsearchBulk:
            let bulk = try ElasticsearchBulkDecoder.decode(body, defaultIndex: context.isEmpty ? nil : context)
            let batch = DecodedBatch(.logs(bulk.records), rejected: bulk.rejectedCount, rejectionMessage: bulk.rejectionMessage)
            return LokiPushHandler.stamped(batch, observedTimeUnixNano: observedTimeUnixNano)
        }
    }

    /// The request an OTLP export of `signal` in `format` stands for, with the records `decoded` holds; nil for
    /// metrics, whose decoding keeps state (delta to cumulative) and whose batches the store changes on admission.
    static func otlp(_ signal: Signal, format: OTLPFormat, body: [UInt8], decoded: DecodedBatch) -> ReceivedRequest? {
        let requestFormat: Format
        switch (signal, format) {
        case (.logs, .protobuf): requestFormat = .otlpLogsProtobuf
        case (.logs, .json): requestFormat = .otlpLogsJSON
        case (.traces, .protobuf): requestFormat = .otlpTracesProtobuf
        case (.traces, .json): requestFormat = .otlpTracesJSON
        case (.metrics, _): return nil
        }
        return ReceivedRequest(format: requestFormat, body: body, observedTimeUnixNano: 0, recordCount: decoded.batch.recordCount)
    }
}
