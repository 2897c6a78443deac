package import NIOCore
import NIOHTTP1
import NIOPosix
import SightlineCore
import SightlineIngest

/// A small HTTP/1.1 client for scraping: one connection per request, a deadline, a bounded body and gzip decoding.
///
/// Built on SwiftNIO alone, so scraping needs no system library (no libcurl, no zlib).
///
/// ```swift
/// let fetcher = HTTPFetcher()
/// let response = try await fetcher.get(
///     ScrapeAddress(host: "localhost", port: 9100), pathAndQuery: "/metrics", timeout: .seconds(10), maxBodySize: 1 << 20)
/// ```
package struct HTTPFetcher: Sendable {
    /// What a GET returned, with the body already decompressed.
    package struct Response: Sendable {
        /// The status code.
        package var status: Int
        /// The `Content-Type` header, or "".
        package var contentType: String
        /// The body, decompressed when it was gzip-encoded.
        package var body: [UInt8]
    }

    /// The `Accept` header Prometheus sends: OpenMetrics preferred, then the text format.
    package static let scrapeAccept =
        "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"

    private let eventLoopGroup: any EventLoopGroup
    private let userAgent: String

    /// Creates a fetcher.
    /// - Parameters:
    ///   - eventLoopGroup: Where connections run.
    ///   - userAgent: The `User-Agent` header.
    package init(eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, userAgent: String = "Sightline/0.1") {
        self.eventLoopGroup = eventLoopGroup
        self.userAgent = userAgent
    }

    /// GETs `pathAndQuery` from `address`.
    /// - Parameters:
    ///   - address: Host and port.
    ///   - pathAndQuery: The request target, e.g. `/metrics?module=http`.
    ///   - headers: Extra request headers.
    ///   - timeout: The deadline for connecting and reading the whole response.
    ///   - maxBodySize: The most bytes the body may have, before and after decompression.
    /// - Returns: The response, whatever its status.
    /// - Throws: ``SightlineError`` `.unavailable` when the connection fails, closes early or times out;
    ///   `.tooLarge` when the body is over `maxBodySize`; `.invalidArgument` for corrupt gzip; `CancellationError`.
    package func get(
        _ address: ScrapeAddress,
        pathAndQuery: String,
        headers: [(String, String)] = [],
        timeout: Duration,
        maxBodySize: Int
    ) async throws -> Response {
        try await send(address, method: "GET", pathAndQuery: pathAndQuery, headers: headers, timeout: timeout, maxBodySize: maxBodySize)
    }

    /// Sends a request with `method` and `body` (with `Content-Length`), as ``get(_:pathAndQuery:headers:timeout:maxBodySize:)``
    /// does; for the command-line clients' POST and DELETE requests.
    package func send(
        _ address: ScrapeAddress,
        method: String,
        pathAndQuery: String,
        headers: [(String, String)] = [],
        body: [UInt8] = [],
        timeout: Duration,
        maxBodySize: Int
    ) async throws -> Response {
        let eventLoop = eventLoopGroup.next()
        let promise = eventLoop.makePromise(of: Response.Raw.self)
        let timeAmount = TimeAmount.nanoseconds(max(1, ScrapeDuration.milliseconds(timeout)) * 1_000_000)
        let timeoutTask = eventLoop.scheduleTask(in: timeAmount) {
            promise.fail(SightlineError(.unavailable, "timed out after \(ScrapeDuration.format(timeout))"))
        }
        promise.futureResult.whenComplete { _ in timeoutTask.cancel() }

        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: pathAndQuery)
        if method != "GET" || !body.isEmpty { head.headers.add(name: "Content-Length", value: "\(body.count)") }
        head.headers.add(name: "Host", value: address.description)
        head.headers.add(name: "User-Agent", value: userAgent)
        head.headers.add(name: "Accept-Encoding", value: "gzip")
        head.headers.add(name: "Connection", value: "close")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        let request = head
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeAmount)
            .channelInitializer { channel in
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPResponseCollector(request: request, body: body, promise: promise, maxBodySize: maxBodySize))
                }
            }
        bootstrap.connect(host: address.host, port: address.port).whenFailure { error in
            promise.fail(SightlineError(.unavailable, "cannot connect to \(address.description)", cause: error))
        }
        var response = try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            promise.fail(CancellationError())
        }
        if response.contentEncoding.lowercased() == "gzip" {
            response.response.body = try response.response.body.withUnsafeBytes { try Gzip.decompress($0, maxOutput: maxBodySize) }
        } else if !response.contentEncoding.isEmpty && response.contentEncoding.lowercased() != "identity" {
            throw SightlineError(.unsupportedMediaType, "unsupported Content-Encoding \"\(response.contentEncoding)\"")
        }
        return response.response
    }
}

extension HTTPFetcher.Response {
    /// A response before decoding, with its `Content-Encoding`.
    struct Raw: Sendable {
        var response: HTTPFetcher.Response
        var contentEncoding: String
    }
}
