/// A query's value together with the annotations Prometheus would return beside it.
package struct PromQLResult: Sendable {
    /// The result.
    package var value: PromQLValue
    /// Warning annotations (`PromQL warning: …`), without duplicates, in the order they were raised.
    package var warnings: [String]
    /// Info annotations (`PromQL info: …`), without duplicates, in the order they were raised.
    package var infos: [String]

    /// A result with the given value and annotations.
    package init(value: PromQLValue, warnings: [String] = [], infos: [String] = []) {
        self.value = value
        self.warnings = warnings
        self.infos = infos
    }
}
