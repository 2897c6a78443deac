/// Why a Loki stream selector did not parse; ``LokiLabelSelector`` turns it into a ``SightlineError``.
struct LokiSelectorError: Error {
    var reason: String
}
