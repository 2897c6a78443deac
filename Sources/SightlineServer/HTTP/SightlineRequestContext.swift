package import Hummingbird
package import HummingbirdWebSocket

/// The request context of every Sightline HTTP route.
package struct SightlineRequestContext: RequestContext, WebSocketRequestContext {
    package var coreContext: CoreRequestContextStorage
    /// Set by a WebSocket route (Loki's tail) that upgrades the connection.
    package let webSocket: WebSocketHandlerReference<SightlineRequestContext>

    package init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
    }
}
