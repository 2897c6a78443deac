package import SightlineCore

/// Decodes OTLP export requests (opentelemetry-proto v1), as protobuf or OTLP/JSON, into Sightline's model.
///
/// Bytes in, model out: no transport code. Resource attributes and scope are copied into every log record and span;
/// metrics are translated to the Prometheus model (see ``OTLPPrometheusTranslator``). Records that cannot be stored
/// (a span without a valid id, a delta point without an accumulator) are counted in ``DecodedBatch/rejected`` with a message, as an OTLP partial
/// success; input that does not decode at all throws.
///
/// ```swift
/// let decoded = try body.withUnsafeBytes { try OTLPDecoder.decode(.logs, body: $0, format: .protobuf) }
/// ```
package enum OTLPDecoder {
    /// Decodes an `ExportLogsServiceRequest` in protobuf.
    /// - Parameter protobuf: The request body.
    /// - Returns: The log records and what was rejected.
    /// - Throws: ``SightlineError`` `.invalidArgument` naming the field path, e.g.
    ///   "malformed protobuf in ExportLogsServiceRequest.resource_logs[0].scope_logs[0].log_records[3]: truncated varint".
    package static func decodeLogs(protobuf: UnsafeRawBufferPointer) throws -> DecodedBatch {
        try protobufErrors("ExportLogsServiceRequest") { try OTLPProtobufDecoder.decodeLogs(protobuf) }
    }

    /// Decodes an `ExportLogsServiceRequest` in OTLP/JSON.
    /// - Parameter json: The request body, UTF-8.
    /// - Returns: The log records and what was rejected.
    /// - Throws: ``SightlineError`` `.invalidArgument` with the byte offset of a syntax error or the path of a bad field.
    package static func decodeLogs(json: UnsafeRawBufferPointer) throws -> DecodedBatch {
        try jsonErrors("ExportLogsServiceRequest") { try OTLPJSONDecoder.decodeLogs(json) }
    }

    /// Decodes an `ExportTraceServiceRequest` in protobuf.
    /// - Parameter protobuf: The request body.
    /// - Returns: The spans and what was rejected.
    /// - Throws: ``SightlineError`` `.invalidArgument` naming the field path.
    package static func decodeTraces(protobuf: UnsafeRawBufferPointer) throws -> DecodedBatch {
        try protobufErrors("ExportTraceServiceRequest") { try OTLPProtobufDecoder.decodeTraces(protobuf) }
    }

    /// Decodes an `ExportTraceServiceRequest` in OTLP/JSON.
    /// - Parameter json: The request body, UTF-8.
    /// - Returns: The spans and what was rejected.
    /// - Throws: ``SightlineError`` `.invalidArgument`.
    package static func decodeTraces(json: UnsafeRawBufferPointer) throws -> DecodedBatch {
        try jsonErrors("ExportTraceServiceRequest") { try OTLPJSONDecoder.decodeTraces(json) }
    }

    /// Decodes an `ExportMetricsServiceRequest` in protobuf and translates it to Prometheus samples.
    /// - Parameter protobuf: The request body.
    /// - Returns: Samples and metadata, and the data points that were rejected.
    /// - Throws: ``SightlineError`` `.invalidArgument` naming the field path.
    package static func decodeMetrics(
        protobuf: UnsafeRawBufferPointer, deltas: Deltas? = nil, translation: OTLPTranslation = OTLPTranslation()
    ) throws -> DecodedBatch {
        let request = try protobufErrors("ExportMetricsServiceRequest") { try OTLPProtobufDecoder.decodeMetrics(protobuf) }
        return OTLPPrometheusTranslator.translate(request, deltas: deltas?.accumulator, tenant: deltas?.tenant ?? "", translation: translation)
    }

    /// Decodes an `ExportMetricsServiceRequest` in OTLP/JSON and translates it to Prometheus samples.
    /// - Parameter json: The request body, UTF-8.
    /// - Returns: Samples and metadata, and the data points that were rejected.
    /// - Throws: ``SightlineError`` `.invalidArgument`.
    package static func decodeMetrics(
        json: UnsafeRawBufferPointer, deltas: Deltas? = nil, translation: OTLPTranslation = OTLPTranslation()
    ) throws -> DecodedBatch {
        let request = try jsonErrors("ExportMetricsServiceRequest") { try OTLPJSONDecoder.decodeMetrics(json) }
        return OTLPPrometheusTranslator.translate(request, deltas: deltas?.accumulator, tenant: deltas?.tenant ?? "", translation: translation)
    }

    /// How OTLP resources reach the series of their metrics, as Prometheus' `otlp` configuration says.
    package struct OTLPTranslation: Sendable, Equatable {
        /// Resource attributes every series of their resource gets as labels (`promote_resource_attributes`).
        package var promoteResourceAttributes: [String] = []
        /// Whether `target_info` keeps `service.name`, `service.namespace` and `service.instance.id` as labels too
        /// (`keep_identifying_resource_attributes`).
        package var keepIdentifyingResourceAttributes = false
        /// How metric and label names are built (`translation_strategy`).
        package var strategy = Strategy.underscoreEscapingWithSuffixes

        package init(
            promoteResourceAttributes: [String] = [], keepIdentifyingResourceAttributes: Bool = false,
            strategy: Strategy = .underscoreEscapingWithSuffixes
        ) {
            self.promoteResourceAttributes = promoteResourceAttributes
            self.keepIdentifyingResourceAttributes = keepIdentifyingResourceAttributes
            self.strategy = strategy
        }

        /// Prometheus 3's OTLP translation strategies, by their configuration names.
        package enum Strategy: String, Sendable, CaseIterable {
            /// Names escaped to `[a-zA-Z0-9_:]`, unit and type suffixes added (`http_server_duration_seconds`).
            case underscoreEscapingWithSuffixes = "UnderscoreEscapingWithSuffixes"
            /// Names escaped, no suffixes (`http_server_duration`).
            case underscoreEscapingWithoutSuffixes = "UnderscoreEscapingWithoutSuffixes"
            /// Names kept in UTF-8, suffixes added (`http.server.duration_seconds`).
            case noUTF8EscapingWithSuffixes = "NoUTF8EscapingWithSuffixes"
            /// Names kept as they are (`http.server.duration`).
            case noTranslation = "NoTranslation"

            /// Whether metric and label names are escaped to Prometheus' legacy character set.
            package var escapes: Bool { self == .underscoreEscapingWithSuffixes || self == .underscoreEscapingWithoutSuffixes }
        }
    }

    /// Where metrics sent with delta temporality are summed: an accumulator and the tenant whose series they are.
    /// Without it, delta points are rejected.
    package struct Deltas: Sendable {
        package var accumulator: OTLPDeltaAccumulator
        package var tenant: String

        package init(_ accumulator: OTLPDeltaAccumulator, tenant: String) {
            self.accumulator = accumulator
            self.tenant = tenant
        }
    }

    /// Decodes an export request of any signal.
    /// - Parameters:
    ///   - signal: Which service the request was sent to.
    ///   - body: The (already decompressed) request body.
    ///   - format: Protobuf or JSON.
    ///   - deltas: Where metrics' delta points are summed; nil rejects them.
    ///   - translation: How metrics' resource attributes become labels (Prometheus' `otlp` settings).
    /// - Returns: The decoded batch and what was rejected.
    /// - Throws: ``SightlineError`` `.invalidArgument` when the body does not decode.
    package static func decode(
        _ signal: Signal, body: UnsafeRawBufferPointer, format: OTLPFormat, deltas: Deltas? = nil, translation: OTLPTranslation = OTLPTranslation()
    ) throws -> DecodedBatch {
        switch (signal, format) {
        case (.logs, .protobuf): try decodeLogs(protobuf: body)
        case (.logs, .json): try decodeLogs(json: body)
        case (.metrics, .protobuf): try decodeMetrics(protobuf: body, deltas: deltas, translation: translation)
        case (.metrics, .json): try decodeMetrics(json: body, deltas: deltas, translation: translation)
        case (.traces, .protobuf): try decodeTraces(protobuf: body)
        case (.traces, .json): try decodeTraces(json: body)
        }
    }

    /// Decodes an export request held in a byte array.
    package static func decode(_ signal: Signal, body: [UInt8], format: OTLPFormat, deltas: Deltas? = nil) throws -> DecodedBatch {
        try body.withUnsafeBytes { try decode(signal, body: $0, format: format, deltas: deltas) }
    }

    private static func protobufErrors<T>(_ root: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as FieldPathError {
            throw error.sightlineError(prefix: "malformed protobuf in", root: root)
        }
    }

    private static func jsonErrors<T>(_ root: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as FieldPathError {
            throw error.sightlineError(prefix: "invalid OTLP JSON in", root: root)
        }
    }
}
