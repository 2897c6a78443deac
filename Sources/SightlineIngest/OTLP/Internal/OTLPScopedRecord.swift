import SightlineCore

/// A record that carries its resource's attributes and its instrumentation scope inline: a log record or a span.
///
/// The OTLP decoders copy both into every record of an export request; the encoder groups records by them.
protocol OTLPScopedRecord {
    var resource: [Attribute] { get set }
    var scope: InstrumentationScope { get set }
}

extension LogRecord: OTLPScopedRecord {}
extension Span: OTLPScopedRecord {}

/// Where the OTLP protobuf decoder puts records: it counts them, and gives those from `start` on their resource and
/// scope once it has read them (they may follow the records on the wire).
protocol OTLPRecordSink {
    var count: Int { get }
    mutating func setResource(_ resource: [Attribute], from start: Int)
    mutating func setScope(_ scope: InstrumentationScope, from start: Int)
}

extension Array: OTLPRecordSink where Element: OTLPScopedRecord {
    mutating func setResource(_ resource: [Attribute], from start: Int) {
        for index in start..<count { self[index].resource = resource }
    }

    mutating func setScope(_ scope: InstrumentationScope, from start: Int) {
        for index in start..<count { self[index].scope = scope }
    }
}

extension LogBatch: OTLPRecordSink {
    mutating func setResource(_ resource: [Attribute], from start: Int) {
        let number = number(resource: resource)
        for index in start..<count { modifyRow(index) { $0.resource = number } }
    }

    mutating func setScope(_ scope: InstrumentationScope, from start: Int) {
        let number = number(scope: scope)
        for index in start..<count { modifyRow(index) { $0.scope = number } }
    }
}

extension Span.Kind {
    /// The kind with OTLP number `value`; unknown numbers are `.unspecified`.
    init(otlp value: Int32) { self = Span.Kind(rawValue: value) ?? .unspecified }
}

extension Span.StatusCode {
    /// The status code with OTLP number `value`; unknown numbers are `.unset`.
    init(otlp value: Int32) { self = Span.StatusCode(rawValue: value) ?? .unset }
}
