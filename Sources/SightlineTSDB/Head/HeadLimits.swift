/// What the head refuses at admission, per tenant.
package struct HeadLimits: Sendable, Hashable {
    /// How far behind a series' newest sample a sample may be and still be accepted, in ms. 0 refuses every
    /// out-of-order sample.
    package var oooWindowMs: Int64
    /// The most series the head holds; 0 for no limit.
    package var maxSeries: Int
    /// The most samples one request may carry; 0 for no limit.
    package var maxSamplesPerRequest: Int

    /// Creates limits; the defaults are a one-hour out-of-order window and no count limits.
    package init(oooWindowMs: Int64 = 3_600_000, maxSeries: Int = 0, maxSamplesPerRequest: Int = 0) {
        self.oooWindowMs = oooWindowMs
        self.maxSeries = maxSeries
        self.maxSamplesPerRequest = maxSamplesPerRequest
    }
}
