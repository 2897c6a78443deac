/// Counts the records a decoder rejects and keeps a few distinct reasons, for an OTLP partial success.
struct RejectionTally {
    private static let maxMessages = 5

    private(set) var count = 0
    private var messages: [String] = []
    private var omitted = 0

    /// Records `count` rejected records for `message`.
    mutating func reject(_ count: Int = 1, _ message: @autoclosure () -> String) {
        guard count > 0 else { return }
        self.count += count
        let text = message()
        if messages.contains(text) { return }
        if messages.count < Self.maxMessages { messages.append(text) } else { omitted += 1 }
    }

    /// The reasons joined with "; ", or an empty string when nothing was rejected.
    var message: String {
        var text = messages.joined(separator: "; ")
        if omitted > 0 { text += "; and \(omitted) more" }
        return text
    }
}
