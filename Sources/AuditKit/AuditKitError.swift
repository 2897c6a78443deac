/// An error from AuditKit: a code to branch on and a message that names what is wrong.
public struct AuditKitError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Code: String, Sendable {
        /// An event the server would refuse (empty action, id too long, …).
        case invalidEvent
        /// `record` was called outside a database transaction, so the event would not share the business change's fate.
        case notInTransaction
        /// The relay configuration cannot work (bad URL, batch size below 1, …).
        case invalidConfiguration
        /// The outbox table or its rows are not as AuditKit wrote them.
        case outbox
        /// The server answered a delivery with an error status.
        case delivery
    }

    /// What kind of failure this is.
    public var code: Code
    /// A sentence naming what is wrong.
    public var message: String

    /// Makes an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
