package import SightlineCore

/// Prometheus remote read (`POST /api/v1/read`, protocol 0.1.0): the queries of a snappy-compressed `ReadRequest`,
/// and the `ReadResponse` of the `SAMPLES` type that answers them.
///
/// `ReadRequest`: queries 1, accepted_response_types 2 (`SAMPLES` 0, `STREAMED_XOR_CHUNKS` 1). `Query`:
/// start_timestamp_ms 1, end_timestamp_ms 2, matchers 3 (`LabelMatcher`: type 1 — `EQ`, `NEQ`, `RE`, `NRE` —, name 2,
/// value 3), hints 4 (not used). `ReadResponse`: results 1; `QueryResult`: timeseries 1; `TimeSeries`: labels 1,
/// samples 2; `Sample`: value 1 (double), timestamp 2.
///
/// ```swift
/// let request = try RemoteReadCodec.decodeRequest(snappyBody: body, maxDecompressed: 16 << 20)
/// let body = RemoteReadCodec.encodeSnappyResponse(request.queries.map { try store.select(…) })
/// ```
package enum RemoteReadCodec {
    /// One query: a time range (both ends included) and the matchers a series must satisfy.
    package struct Query: Sendable {
        package var startMs: Int64
        package var endMs: Int64
        package var matchers: [LabelMatcher]
    }

    /// A decoded `ReadRequest`.
    package struct Request: Sendable {
        package var queries: [Query]
        /// The response types the client accepts, in its order of preference (empty: only `SAMPLES`, as in 0.1.0).
        package var acceptedResponseTypes: [Int]

        /// Whether the client takes the `SAMPLES` response, the one Sightline writes.
        package var acceptsSamples: Bool { acceptedResponseTypes.isEmpty || acceptedResponseTypes.contains(0) }
    }

    private static let matcherKinds: [LabelMatcher.Kind] = [.equal, .notEqual, .regexMatch, .regexNoMatch]

    /// Decodes a snappy-compressed `ReadRequest`.
    /// - Throws: ``SightlineError`` `.invalidArgument` naming what is wrong: the compression, the protobuf field, a
    ///   matcher type or regular expression, a query without matchers.
    package static func decodeRequest(snappyBody: UnsafeRawBufferPointer, maxDecompressed: Int) throws -> Request {
        let plain: [UInt8]
        do {
            plain = try Snappy.decompress(snappyBody, maxOutput: maxDecompressed)
        } catch let error as SightlineError {
            throw SightlineError(error.code, "remote read body: \(error.message)")
        }
        return try plain.withUnsafeBytes { try decodeRequest(protobuf: $0) }
    }

    /// Decodes an uncompressed `ReadRequest`.
    package static func decodeRequest(protobuf: UnsafeRawBufferPointer) throws -> Request {
        do {
            var request = Request(queries: [], acceptedResponseTypes: [])
            var reader = ProtobufReader(protobuf)
            while let field = try reader.nextField() {
                switch field {
                case 1:
                    let index = request.queries.count
                    request.queries.append(try reader.readMessage("queries", index: index) { try query(&$0, index: index) })
                case 2:
                    if reader.wireType == .lengthDelimited {
                        var packed = ProtobufReader(try reader.readRawLengthDelimited())
                        while !packed.isAtEnd { request.acceptedResponseTypes.append(Int(try packed.readRawVarint())) }
                    } else {
                        request.acceptedResponseTypes.append(Int(try reader.readVarint("accepted_response_types")))
                    }
                default:
                    try reader.skipField()
                }
            }
            return request
        } catch let error as FieldPathError {
            throw error.sightlineError(prefix: "malformed protobuf in", root: "ReadRequest")
        }
    }

    private static func query(_ reader: inout ProtobufReader, index: Int) throws -> Query {
        var query = Query(startMs: 0, endMs: 0, matchers: [])
        while let field = try reader.nextField() {
            switch field {
            case 1: query.startMs = Int64(bitPattern: try reader.readVarint("start_timestamp_ms"))
            case 2: query.endMs = Int64(bitPattern: try reader.readVarint("end_timestamp_ms"))
            case 3:
                var (kind, name, value) = (0, "", "")
                var matcher = try reader.readMessage("matchers")
                while let field = try matcher.nextField() {
                    switch field {
                    case 1: kind = Int(try matcher.readVarint("type"))
                    case 2: name = try matcher.readString("name")
                    case 3: value = try matcher.readString("value")
                    default: try matcher.skipField()
                    }
                }
                guard matcherKinds.indices.contains(kind) else {
                    throw SightlineError(.invalidArgument, "remote read query \(index): unknown label matcher type \(kind)")
                }
                query.matchers.append(try LabelMatcher(name, matcherKinds[kind], value))
            default:
                try reader.skipField()
            }
        }
        guard !query.matchers.isEmpty else {
            throw SightlineError(.invalidArgument, "remote read query \(index) has no label matchers")
        }
        return query
    }

    /// The `ReadResponse` with one `QueryResult` per query, snappy-compressed.
    package static func encodeSnappyResponse(_ results: [[SeriesSamples]]) -> [UInt8] {
        let plain = encodeResponse(results)
        return plain.withUnsafeBytes { Snappy.compress($0) }
    }

    /// The `ReadResponse`, uncompressed. Staleness markers go out as the NaN they are stored as.
    package static func encodeResponse(_ results: [[SeriesSamples]]) -> [UInt8] {
        let samples = results.reduce(0) { $0 + $1.reduce(0) { $0 + $1.values.count } }
        var writer = ProtobufWriter(capacity: samples * 20 + 64)
        for series in results {
            writer.writeMessage(1) { result in
                for one in series {
                    result.writeMessage(1) { timeSeries in
                        for label in one.labels.labels {
                            timeSeries.writeMessage(1) { message in
                                message.writeString(1, label.name)
                                message.writeString(2, label.value)
                            }
                        }
                        for (time, value) in zip(one.timestampsMs, one.values) {
                            timeSeries.writeMessage(2) { message in
                                if value.bitPattern != 0 { message.writeDouble(1, value) }
                                if time != 0 { message.writeInt64(2, time) }
                            }
                        }
                    }
                }
            }
        }
        return writer.bytes
    }
}
