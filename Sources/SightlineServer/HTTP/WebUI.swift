import Foundation
import HTTPTypes
package import Hummingbird
import NIOCore
import SightlineCore

/// The web UI's static files: HTML, CSS and JavaScript modules, held in memory and served under `/ui/`, with
/// `index.html` at `/` for browsers.
///
/// The files ship as the SightlineServer target's SwiftPM resources (the `UI` folder copied into the
/// `Sightline_SightlineServer.resources` bundle beside the executable). `ui.assets_dir` in the config file serves another
/// folder instead, so the UI can be edited without a rebuild. The files are read once, at start.
package struct WebUIAssets: Sendable {
    package struct Asset: Sendable {
        package var bytes: [UInt8]
        package var contentType: String
        package var etag: String
    }

    /// Files by their path below the UI folder (`index.html`, `js/app.js`).
    package let files: [String: Asset]
    /// The folder they were read from.
    package let directory: String

    /// Reads every file below `directory`.
    /// - Throws: `configuration` when the folder cannot be read or has no `index.html`.
    package init(directory: String) throws {
        let manager = FileManager.default
        guard let enumerator = manager.enumerator(atPath: directory) else {
            throw SightlineError(.configuration, "web UI folder \(directory) cannot be read")
        }
        var files: [String: Asset] = [:]
        while let relative = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let path = directory + "/" + relative
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                let data = manager.contents(atPath: path)
            else { continue }
            let bytes = [UInt8](data)
            files[relative] = Asset(bytes: bytes, contentType: Self.contentType(of: relative), etag: Self.etag(bytes))
        }
        guard files["index.html"] != nil else {
            throw SightlineError(.configuration, "web UI folder \(directory) has no index.html")
        }
        self.files = files
        self.directory = directory
    }

    /// The bundled UI: the `UI` folder of the resource bundle beside the running executable; nil when the bundle is
    /// not there (a binary copied without it), in which case the server runs without a UI.
    package static func bundled() -> WebUIAssets? {
        guard let executable = Bundle.main.executableURL else { return nil }
        let folder = executable.deletingLastPathComponent().appendingPathComponent("Sightline_SightlineServer.resources/UI").path
        return try? WebUIAssets(directory: folder)
    }

    static func contentType(of path: String) -> String {
        switch path.split(separator: ".").last {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "json": "application/json"
        case "png": "image/png"
        case "ico": "image/x-icon"
        default: "application/octet-stream"
        }
    }

    /// A strong validator: FNV-1a of the bytes, enough to tell two versions of one file apart.
    static func etag(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return "\"" + String(hash, radix: 16) + "\""
    }

    /// The answer for `path` (below `/ui/`): the file with its type and validator, 304 when `If-None-Match` names
    /// the current version, 404 when there is no such file.
    package func response(path: String, ifNoneMatch: String?) -> Response {
        guard let asset = files[path] else {
            return Response(
                status: .notFound, headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: "no UI file \(path)\n")))
        }
        // `no-cache` revalidates every load, so a new server version is seen at once; the ETag keeps it cheap.
        var headers: HTTPFields = [.contentType: asset.contentType, .eTag: asset.etag, .cacheControl: "no-cache"]
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        if ifNoneMatch == asset.etag {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}

/// The UI's routes: `/ui/<file>`, and `index.html` at `/` for callers that accept HTML. `GET /` stays Elasticsearch's
/// cluster probe for everyone else (its clients and shippers do not ask for HTML), see ``ElasticsearchHandler``.
enum WebUI {
    static func addRoutes(to router: Router<SightlineRequestContext>, assets: WebUIAssets) {
        router.get("/ui/**") { request, context in
            let path = context.parameters.getCatchAll().joined(separator: "/")
            return assets.response(path: path, ifNoneMatch: request.headers[.ifNoneMatch])
        }
        router.get("/ui") { _, _ in redirectToIndex() }
        // Browsers ask for it on pages without an icon link (a JSON answer, an image opened alone).
        router.get("/favicon.ico") { request, _ in assets.response(path: "favicon.svg", ifNoneMatch: request.headers[.ifNoneMatch]) }
    }

    /// Whether a `GET /` is a browser's: its `Accept` names `text/html`.
    static func wantsHTML(_ request: Request) -> Bool {
        request.headers[values: .accept].contains { $0.contains("text/html") }
    }

    static func redirectToIndex() -> Response {
        Response(status: .found, headers: [.location: "/"])
    }
}
