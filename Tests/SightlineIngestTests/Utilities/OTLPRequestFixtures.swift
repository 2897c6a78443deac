import SightlineIngest

/// OTLP export requests built field by field.
enum OTLPRequestFixtures {
    /// An `ExportMetricsServiceRequest` of one resource whose `service.name` is `service`; `scope` writes the
    /// `ScopeMetrics` message (its metrics are field 2).
    static func metrics(service: String, _ scope: (inout ProtobufWriter) -> Void) -> [UInt8] {
        var writer = ProtobufWriter()
        writer.writeMessage(1) { resourceMetrics in
            resourceMetrics.writeMessage(1) { resource in
                resource.writeMessage(1) { kv in
                    kv.writeString(1, "service.name")
                    kv.writeMessage(2) { $0.writeString(1, service) }
                }
            }
            resourceMetrics.writeMessage(2, scope)
        }
        return writer.bytes
    }
}
