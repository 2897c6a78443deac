/// One sample slot of a test-script series description.
package enum SeriesValue: Sendable, Equatable {
    case value(Double)
    /// `_`: no sample at this step.
    case missing
    /// `stale`: a staleness marker.
    case stale

    /// Values compare by number, with NaN equal to NaN so that parsed scripts compare as written.
    package static func == (a: SeriesValue, b: SeriesValue) -> Bool {
        switch (a, b) {
        case (.value(let x), .value(let y)): x == y || (x.isNaN && y.isNaN)
        case (.missing, .missing), (.stale, .stale): true
        default: false
        }
    }
}
