package import Hummingbird
package import HummingbirdWebSocket
import NIOCore

/// The request context of every Sightline HTTP route.
package struct SightlineRequestContext: RequestContext, WebSocketRequestContext {
    package var coreContext: CoreRequestContextStorage
    /// Set by a WebSocket route (Loki's tail) that upgrades the connection.
    package let webSocket: WebSocketHandlerReference<SightlineRequestContext>
    /// The peer's IP address, for audit records of who read what.
    package let remoteAddress: String?

    package init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }
}
