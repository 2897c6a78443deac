import Foundation
import HTTPTypes
import NIOCore
import SightlineTestSupport
import Testing

@testable import SightlineCore
@testable import SightlineServer

@Suite struct WebUITests {
    /// A UI folder with an index and one module.
    func folder() throws -> TemporaryDirectory {
        let folder = try TemporaryDirectory(prefix: "sightline-ui-test")
        try FileManager.default.createDirectory(atPath: folder.file("js"), withIntermediateDirectories: true)
        try Data("<!doctype html><title>Sightline</title>".utf8).write(to: URL(fileURLWithPath: folder.file("index.html")))
        try Data("export const answer = 42;\n".utf8).write(to: URL(fileURLWithPath: folder.file("js/a.js")))
        try Data("<svg/>".utf8).write(to: URL(fileURLWithPath: folder.file("favicon.svg")))
        return folder
    }

    @Test func browsersGetTheIndexAtTheRootAndEveryoneElseTheElasticsearchProbe() async throws {
        let ui = try folder()
        var harness = try ServerHarness()
        harness.api.ui = try WebUIAssets(directory: ui.path)
        let client = harness.client()
        try await client.execute("/", headers: [.accept: "text/html,application/xhtml+xml,*/*;q=0.8"]).check { reply in
            #expect(reply.status == .ok)
            #expect(reply.headers[.contentType] == "text/html; charset=utf-8")
            #expect(String(buffer: reply.body).contains("<title>Sightline</title>"))
        }
        for accept in [nil, "application/json", "*/*"] {
            let headers: HTTPFields = accept.map { [.accept: $0] } ?? [:]
            try await client.execute("/", headers: headers).check { reply in
                #expect(reply.status == .ok)
                #expect(reply.headers[HTTPField.Name("X-Elastic-Product")!] == "Elasticsearch", "Accept: \(accept ?? "none")")
            }
        }
        await harness.cleanUp()
        ui.remove()
    }

    @Test func filesHaveTheirTypeAndAValidatorAndMissingOnesAre404() async throws {
        let ui = try folder()
        var harness = try ServerHarness()
        harness.api.ui = try WebUIAssets(directory: ui.path)
        let client = harness.client()
        var etag = ""
        try await client.execute("/ui/js/a.js").check { reply in
            #expect(reply.status == .ok)
            #expect(reply.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(reply.headers[.cacheControl] == "no-cache")
            #expect(String(buffer: reply.body) == "export const answer = 42;\n")
            etag = reply.headers[.eTag] ?? ""
        }
        #expect(!etag.isEmpty)
        try await client.execute("/ui/js/a.js", headers: [.ifNoneMatch: etag]).check { reply in
            #expect(reply.status == .notModified)
            #expect(reply.body.readableBytes == 0)
        }
        try await client.execute("/ui/js/a.js", headers: [.ifNoneMatch: "\"stale\""]).check { #expect($0.status == .ok) }
        for path in ["/ui/js/missing.js", "/ui/../Package.swift", "/ui/js/../../index.html.bak"] {
            try await client.execute(path).check { #expect($0.status == .notFound, "\(path)") }
        }
        try await client.execute("/favicon.ico").check { #expect($0.headers[.contentType] == "image/svg+xml") }
        try await client.execute("/ui").check { reply in
            #expect(reply.status == .found)
            #expect(reply.headers[.location] == "/")
        }
        await harness.cleanUp()
        ui.remove()
    }

    @Test func aServerWithoutUIFilesServesNoUI() async throws {
        let harness = try ServerHarness()
        let client = harness.client()
        try await client.execute("/ui/js/app.js").check { #expect($0.status == .notFound) }
        try await client.execute("/", headers: [.accept: "text/html"]).check { reply in
            #expect(reply.headers[HTTPField.Name("X-Elastic-Product")!] == "Elasticsearch")
        }
        await harness.cleanUp()
    }

    @Test func aFolderThatCannotServeAsUIIsRefusedByName() throws {
        let error = #expect(throws: SightlineError.self) { try WebUIAssets(directory: "/nonexistent/sightline-ui") }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("/nonexistent/sightline-ui") == true)
        let empty = try TemporaryDirectory(prefix: "sightline-ui-empty")
        let noIndex = #expect(throws: SightlineError.self) { try WebUIAssets(directory: empty.path) }
        #expect(noIndex?.message.contains("has no index.html") == true)
        empty.remove()
    }

    /// The built-in UI is complete: every module a file imports is there, and every stylesheet and script the index
    /// names. (The browser tests in tests/integration run the pages themselves.)
    @Test func theBundledUIHasEveryFileItsModulesImport() throws {
        let assets = try #require(WebUIAssets.bundled(), "the UI resource bundle is beside the test binary after a build")
        #expect(assets.files["index.html"] != nil)
        #expect(assets.files["js/app.js"] != nil)
        let importPattern = /(?:import|from)\s+['"](\.{1,2}\/[^'"]+)['"]/
        let linkPattern = /(?:href|src)="\/ui\/([^"]+)"/
        var imports = 0
        for (path, asset) in assets.files {
            let text = String(decoding: asset.bytes, as: UTF8.self)
            let directory = path.split(separator: "/").dropLast().map(String.init)
            if path.hasSuffix(".js") {
                for match in text.matches(of: importPattern) {
                    imports += 1
                    let target = resolve(String(match.output.1), from: directory)
                    #expect(assets.files[target] != nil, "\(path) imports \(match.output.1), which is not in the UI")
                }
            } else if path == "index.html" {
                for match in text.matches(of: linkPattern) {
                    #expect(assets.files[String(match.output.1)] != nil, "index.html names /ui/\(match.output.1)")
                }
            }
        }
        #expect(imports >= 5, "the pattern finds the shell's imports")
    }

    private func resolve(_ relative: String, from directory: [String]) -> String {
        var parts = directory
        for part in relative.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(String(part))
            }
        }
        return parts.joined(separator: "/")
    }
}
