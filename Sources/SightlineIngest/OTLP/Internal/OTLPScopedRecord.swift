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

extension Span.Kind {
    /// The kind with OTLP number `value`; unknown numbers are `.unspecified`.
    init(otlp value: Int32) { self = Span.Kind(rawValue: value) ?? .unspecified }
}

extension Span.StatusCode {
    /// The status code with OTLP number `value`; unknown numbers are `.unset`.
    init(otlp value: Int32) { self = Span.StatusCode(rawValue: value) ?? .unset }
}
