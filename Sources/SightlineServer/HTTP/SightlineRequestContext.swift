package import Hummingbird

/// The request context of every Sightline HTTP route.
package struct SightlineRequestContext: RequestContext {
    package var coreContext: CoreRequestContextStorage

    package init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}
