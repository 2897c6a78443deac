import Foundation
import SightlineIngest
import SightlineTestSupport
import Testing

@testable import SightlineAgent
@testable import SightlineCore

/// The agent's buffer, file tailer, transforms and config, without a server.
struct AgentTests {
    @Test func bufferKeepsFramesAcrossReopenUntilAcknowledged() throws {
        let temporary = try TemporaryDirectory(prefix: "agent-buffer")
        defer { temporary.remove() }
        let buffer = try DiskBuffer(directory: temporary.path, maxBytes: 1 << 20, segmentBytes: 4096)
        for index in 0..<20 { #expect(try buffer.append(Array(repeating: UInt8(index), count: 500), whenFull: .block)) }
        let first = try #require(try buffer.first())
        try buffer.acknowledge(through: first.next)
        buffer.close()
        let reopened = try DiskBuffer(directory: temporary.path, maxBytes: 1 << 20, segmentBytes: 4096)
        var seen: [UInt8] = []
        while let frame = try reopened.first() {
            seen.append(frame.payload[0])
            try reopened.acknowledge(through: frame.next)
        }
        #expect(seen == Array(1..<20).map(UInt8.init))
        reopened.close()
    }

    /// The cursor file lags acknowledgements by at most the interval: after a crash the frames acknowledged since come
    /// back at the same positions (so with the same batch ids, which the server drops as already accepted).
    @Test(arguments: [Duration.zero, .seconds(3600)])
    func aCrashRepeatsOnlyFramesAcknowledgedSinceTheCursorWasWritten(cursorInterval: Duration) throws {
        let temporary = try TemporaryDirectory(prefix: "agent-buffer")
        defer { temporary.remove() }
        let buffer = try DiskBuffer(directory: temporary.path, maxBytes: 1 << 20, cursorInterval: cursorInterval)
        for index in 0..<5 { try buffer.append([UInt8(index)], whenFull: .block) }
        var positions: [DiskBuffer.Position] = []
        for _ in 0..<2 {
            let frame = try #require(try buffer.first())
            positions.append(frame.position)
            try buffer.acknowledge(through: frame.next)
        }
        // No close(): the process died here.
        let reopened = try DiskBuffer(directory: temporary.path, maxBytes: 1 << 20, cursorInterval: cursorInterval)
        let first = try #require(try reopened.first())
        if cursorInterval == .zero {
            #expect(first.payload == [2])
        } else {
            #expect(first.payload == [0])
            #expect(first.position == positions[0])
        }
        reopened.close()
        buffer.close()
    }

    @Test func aFullBufferBlocksOrDropsTheOldest() throws {
        let temporary = try TemporaryDirectory(prefix: "agent-buffer")
        defer { temporary.remove() }
        let buffer = try DiskBuffer(directory: temporary.path, maxBytes: 1 << 16, segmentBytes: 4096)
        var accepted = 0
        while try buffer.append(Array(repeating: 7, count: 1000), whenFull: .block) { accepted += 1 }
        #expect(accepted > 10)
        #expect(try buffer.append(Array(repeating: 9, count: 1000), whenFull: .dropOldest))
        #expect(buffer.dropped > 0)
        #expect(throws: SightlineError.self) { try buffer.append(Array(repeating: 1, count: 1 << 15), whenFull: .block) }
        buffer.close()
    }

    @Test func aTornTailIsCutOff() throws {
        let temporary = try TemporaryDirectory(prefix: "agent-buffer")
        defer { temporary.remove() }
        let buffer = try DiskBuffer(directory: temporary.path, maxBytes: 1 << 20)
        try buffer.append([1, 2, 3], whenFull: .block)
        buffer.close()
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: temporary.path).filter { $0.hasSuffix(".buf") }.sorted().last)
        let handle = try #require(FileHandle(forWritingAtPath: temporary.path + "/" + segment))
        handle.seekToEndOfFile()
        handle.write(Data([9, 0, 0, 0, 1]))
        handle.closeFile()
        let reopened = try DiskBuffer(directory: temporary.path, maxBytes: 1 << 20)
        #expect(try reopened.first()?.payload == [1, 2, 3])
        reopened.close()
    }

    private func tailer(_ directory: String, _ source: FileSourceConfig, positions: [String: FilePosition] = [:]) throws -> FileTailer {
        try FileTailer(sources: [source], positionsPath: directory + "/positions", positions: positions, hostName: "h", metrics: AgentMetrics())
    }

    private func append(_ path: String, _ text: String) throws {
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
        handle.closeFile()
    }

    @Test func renameAndCopytruncateRotationLoseAndRepeatNothing() throws {
        let temporary = try TemporaryDirectory(prefix: "agent-tail")
        defer { temporary.remove() }
        let log = temporary.path + "/app.log"
        let tail = try tailer(temporary.path, FileSourceConfig(paths: [log]))
        var lines: [String] = []
        func poll() {
            let (records, positions) = tail.poll(maxBytes: 1 << 20)
            lines += records.map(\.body.text)
            tail.commit(positions)
        }
        try append(log, "a\nb\n")
        poll()
        try append(log, "c\n")
        try FileManager.default.moveItem(atPath: log, toPath: log + ".1")
        try append(log, "d\n")
        poll()
        try append(log, "e\npartial")
        poll()
        // copytruncate: the content is copied away, the file cut to zero, then written again.
        try FileManager.default.copyItem(atPath: log, toPath: log + ".2")
        try FileHandle(forWritingAtPath: log)?.truncate(atOffset: 0)
        try append(log, "f\n")
        poll()
        #expect(lines.sorted() == ["a", "b", "c", "d", "e", "f"])
        tail.close()
    }

    @Test func positionsResumeAndReusedInodesStartOver() throws {
        let temporary = try TemporaryDirectory(prefix: "agent-tail")
        defer { temporary.remove() }
        let log = temporary.path + "/app.log"
        try append(log, "one\ntwo\n")
        let first = try tailer(temporary.path, FileSourceConfig(paths: [log]))
        let (records, positions) = first.poll(maxBytes: 1 << 20)
        #expect(records.count == 2)
        first.commit(positions)
        try first.persistPositions()
        first.close()
        try append(log, "three\n")
        let saved = try FileTailer.loadPositions(temporary.path + "/positions")
        let second = try tailer(temporary.path, FileSourceConfig(paths: [log]), positions: saved)
        #expect(second.poll(maxBytes: 1 << 20).records.map(\.body.text) == ["three"])
        second.close()
        // Same key, different first bytes: a reused inode, read from the start.
        var stale = saved
        for key in stale.keys { stale[key]?.fingerprint = Array("xxxx".utf8) }
        let third = try tailer(temporary.path, FileSourceConfig(paths: [log]), positions: stale)
        #expect(third.poll(maxBytes: 1 << 20).records.count == 3)
        third.close()
    }

    @Test func multilineMaxSizeAndInvalidUTF8() throws {
        let temporary = try TemporaryDirectory(prefix: "agent-tail")
        defer { temporary.remove() }
        let log = temporary.path + "/app.log"
        var source = FileSourceConfig(paths: [log])
        source.multilineStart = "^\\d{4}-"
        source.maxRecordBytes = 64
        let metrics = AgentMetrics()
        let tail = try FileTailer(sources: [source], positionsPath: temporary.path + "/p", positions: [:], hostName: "h", metrics: metrics)
        try append(log, "2026-01-01 boom\n  at a()\n  at b()\n2026-01-01 next\n")
        try Data([0x32, 0x30, 0x32, 0x36, 0x2D, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: temporary.path + "/x"))
        try append(log, String(decoding: try Data(contentsOf: URL(fileURLWithPath: temporary.path + "/x")), as: UTF8.self))
        try append(log, "2026-" + String(repeating: "y", count: 100) + "\n")
        let records = tail.poll(maxBytes: 1 << 20).records.map(\.body.text)
        #expect(records.first == "2026-01-01 boom\n  at a()\n  at b()")
        #expect(records.count == 4)
        #expect(records.last?.utf8.count == 64)
        #expect(metrics.value("sightline_agent_records_truncated_total") == 1)
        tail.close()
    }

    @Test func carriageReturnsEndLinesAndARunawayLineIsCut() throws {
        let temporary = try TemporaryDirectory(prefix: "agent-tail")
        defer { temporary.remove() }
        let log = temporary.path + "/app.log"
        var source = FileSourceConfig(paths: [log])
        source.maxRecordBytes = 64
        let metrics = AgentMetrics()
        let tail = try FileTailer(sources: [source], positionsPath: temporary.path + "/p", positions: [:], hostName: "h", metrics: metrics)
        try append(log, "a\r\nb\n\r\n" + String(repeating: "z", count: 100))
        #expect(tail.poll(maxBytes: 1 << 20).records.map(\.body.text) == ["a", "b", ""])
        // No newline after 100 bytes: the first 64 are a record, the rest waits for its newline.
        #expect(tail.poll(maxBytes: 1 << 20).records.map(\.body.text) == [String(repeating: "z", count: 64)])
        try append(log, "\n")
        #expect(tail.poll(maxBytes: 1 << 20).records.map(\.body.text) == [String(repeating: "z", count: 36)])
        #expect(metrics.value("sightline_agent_lines_read_total") == 4)
        tail.close()
    }

    @Test func transformsParseAndNeverLoseARecord() throws {
        let box = try NSRegularExpressionBox("^(?<level>[A-Z]+) (?<msg>.*)$")
        let chain: [Transform] = [
            .json, .renameFields(["lvl": "level"]), .timestamp(field: "ts", format: "unix_ms"),
            .addFields(["env": "prod"]), .dropFields(["ts"]), .streamLabels(["service.name": "app"]),
        ]
        let json = try #require(Transform.apply(chain, to: LogRecord(body: .string(#"{"lvl":"info","ts":1700000000123,"app":"web"}"#))))
        #expect(json.attributes.map(\.key).sorted() == ["app", "env", "level"])
        #expect(json.timeUnixNano == 1_700_000_000_123_000_000)
        #expect(json.resource.first { $0.key == "service.name" }?.value.text == "web")
        let bad = try #require(Transform.apply([.json], to: LogRecord(body: .string("not json"))))
        #expect(bad.body.text == "not json")
        #expect(bad.attributes.first { $0.key == "error" } != nil)
        let parsed = try #require(Transform.apply([.regex(box), .logfmt], to: LogRecord(body: .string("WARN disk=\"sda 1\" full"))))
        #expect(parsed.attributes.first { $0.key == "level" }?.value.text == "WARN")
        #expect(parsed.attributes.first { $0.key == "disk" }?.value.text == "sda 1")
        #expect(Transform.apply([.regex(box), .drop(field: "level", equals: "DEBUG")], to: LogRecord(body: .string("DEBUG x"))) == nil)
        #expect(Transform.apply([.regex(box), .keep(field: "level", equals: "DEBUG")], to: LogRecord(body: .string("INFO x"))) == nil)
        var generator = SplitMix64(seed: 42)
        let kept = (0..<1000).filter { _ in Transform.apply([.sample(10)], to: LogRecord(body: .string("\(generator.next())"))) != nil }.count
        #expect(kept > 50 && kept < 150)
    }

    @Test func configParsesAndNamesBadKeys() throws {
        let config = try AgentConfig.parse(
            """
            server: http://127.0.0.1:9000
            data_dir: /var/lib/agent
            metrics_address: 127.0.0.1:7601
            buffer: {max_bytes: 1048576, when_full: drop_oldest}
            sources:
              files:
                - paths: ["/var/log/*.log"]
                  start_at: end
                  multiline_start: '^\\S'
                  resource: {service.name: app}
                  transforms:
                    - {type: json}
                    - {type: timestamp, field: time, format: rfc3339}
            """, file: "agent.yaml")
        #expect(config.serverPort == 9000)
        #expect(config.whenFull == .dropOldest)
        #expect(config.files.first?.startAtBeginning == false)
        #expect(config.files.first?.transforms.count == 2)
        #expect(throws: SightlineError.self) { try AgentConfig.parse("bogus: 1", file: "agent.yaml") }
        do {
            _ = try AgentConfig.parse("sources:\n  files:\n    - paths: [a]\n      transforms: [{type: nope}]", file: "agent.yaml")
            Issue.record("an unknown transform was accepted")
        } catch let error as SightlineError {
            #expect(error.description.contains("agent.yaml") && error.description.contains("sources.files[0].transforms[0].type"))
        }
    }
}
