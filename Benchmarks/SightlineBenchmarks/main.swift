// Sightline micro-benchmarks, run by scripts/bench/*.sh (not tests).
//
//     SightlineBenchmarks <subcommand> [options]
//
// Subcommands:
//     wal       WAL append throughput against raw write()+fsync() of the same bytes in the same batches.
//     logstore  log store ingestion rate, bytes on disk per record and a rare-term search over gen_logs.py NDJSON.
//
// Each subcommand prints a markdown table (header and one row) on stdout and details on stderr.
// To add a subcommand: write a `struct XBenchmark { init(arguments:) throws; func run() async throws }` and a `case`.

import Foundation
import Glibc
import Logging
import SightlineCore
import SightlineStorageCore

/// `--name value` options of a subcommand.
struct BenchmarkArguments {
    private var values: [String: String] = [:]

    init(_ arguments: [String], allowed: Set<String>) throws {
        var index = 0
        while index < arguments.count {
            let name = arguments[index]
            guard name.hasPrefix("--"), allowed.contains(String(name.dropFirst(2))), index + 1 < arguments.count else {
                throw SightlineError(.invalidArgument, "unknown option or missing value: \(name)")
            }
            values[String(name.dropFirst(2))] = arguments[index + 1]
            index += 2
        }
    }

    func string(_ name: String, default value: String) -> String { values[name] ?? value }

    func int(_ name: String, default value: Int) throws -> Int {
        guard let text = values[name] else { return value }
        guard let parsed = Int(text), parsed > 0 else { throw SightlineError(.invalidArgument, "--\(name) must be a positive integer") }
        return parsed
    }
}

/// Monotonic seconds since an arbitrary point.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func format(_ value: Double, _ digits: Int = 1) -> String {
    String(format: "%.\(digits)f", value)
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// `wal`: (1) raw: `records / batch` times one `write()` of `batch` frames plus one `fsync()`, to a plain file;
/// (2) WAL: `writers` concurrent tasks each appending `records / writers` records with fsync `.always`, so group
/// commit forms the batches. Runs both `runs` times, interleaved, and reports the medians.
struct WALBenchmark {
    var directory: String
    var records: Int
    var recordSize: Int
    var batch: Int
    var writers: Int
    var runs: Int

    init(arguments: [String]) throws {
        let options = try BenchmarkArguments(arguments, allowed: ["dir", "records", "record-size", "batch", "writers", "runs"])
        directory = options.string("dir", default: NSTemporaryDirectory() + "/sightline-bench-wal")
        records = try options.int("records", default: 200_000)
        recordSize = try options.int("record-size", default: 1024)
        batch = try options.int("batch", default: 100)
        writers = try options.int("writers", default: 100)
        runs = try options.int("runs", default: 3)
    }

    private var payload: [UInt8] { (0..<recordSize).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) } }

    /// One frame as the WAL writes it, so both sides write the same bytes.
    private var frame: [UInt8] {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt32(recordSize).littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: CRC32C.checksum(payload).littleEndian) { bytes.append(contentsOf: $0) }
        return bytes + payload
    }

    /// Seconds to write every record in batches of `batch`, fsyncing each.
    private func runRaw(_ path: String) throws -> (seconds: Double, fsyncSeconds: Double) {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SightlineError(.io, "open \(path): \(String(cString: strerror(errno)))") }
        defer {
            close(fd)
            unlink(path)
        }
        let one = frame
        var buffer: [UInt8] = []
        buffer.reserveCapacity(one.count * batch)
        for _ in 0..<batch { buffer += one }
        var fsyncSeconds = 0.0
        let start = monotonicSeconds()
        var written = 0
        while written < records {
            let count = min(batch, records - written)
            try buffer.withUnsafeBytes { bytes in
                let slice = UnsafeRawBufferPointer(rebasing: bytes[0..<(count * one.count)])
                guard let base = slice.baseAddress else { return }
                var done = 0
                while done < slice.count {
                    let n = write(fd, base + done, slice.count - done)
                    guard n >= 0 else { throw SightlineError(.io, "write \(path): \(String(cString: strerror(errno)))") }
                    done += n
                }
            }
            let syncStart = monotonicSeconds()
            guard fsync(fd) == 0 else { throw SightlineError(.io, "fsync \(path): \(String(cString: strerror(errno)))") }
            fsyncSeconds += monotonicSeconds() - syncStart
            written += count
        }
        return (monotonicSeconds() - start, fsyncSeconds)
    }

    /// Seconds for `writers` tasks to append every record through the WAL, and what group commit did.
    private func runWAL(_ path: String) async throws -> (seconds: Double, batches: Int, fsyncSeconds: Double) {
        try? FileManager.default.removeItem(atPath: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        final class Stats: @unchecked Sendable {  // written only on the WAL writer thread, read after close()
            var batches = 0
            var fsyncSeconds = 0.0
        }
        let stats = Stats()
        let options = WALOptions(fsync: .always) { _, _, _, fsyncSeconds in
            stats.batches += 1
            stats.fsyncSeconds += fsyncSeconds
        }
        let wal = try WriteAheadLog(directory: path, options: options, logger: Logger(label: "bench.wal"))
        let payload = self.payload
        let writers = self.writers
        let records = self.records
        let start = monotonicSeconds()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                let share = records / writers + (writer < records % writers ? 1 : 0)
                group.addTask {
                    for _ in 0..<share { _ = try await wal.append(payload) { _ in } }
                }
            }
            try await group.waitForAll()
        }
        let seconds = monotonicSeconds() - start
        try await wal.close()
        return (seconds, stats.batches, stats.fsyncSeconds)
    }

    func run() async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let megabytes = Double(records * recordSize) / 1_000_000
        var raw: [Double] = []
        var wal: [Double] = []
        var rawFsyncMs: [Double] = []
        var walFsyncMs: [Double] = []
        var walBatch: [Double] = []
        for run in 1...runs {
            let r = try runRaw(directory + "/raw.bin")
            let w = try await runWAL(directory + "/wal")
            raw.append(megabytes / r.seconds)
            wal.append(megabytes / w.seconds)
            let rawBatches = Double((records + batch - 1) / batch)
            rawFsyncMs.append(r.fsyncSeconds / rawBatches * 1000)
            walFsyncMs.append(w.fsyncSeconds / Double(max(w.batches, 1)) * 1000)
            walBatch.append(Double(records) / Double(max(w.batches, 1)))
            printError(
                "run \(run): raw \(format(megabytes / r.seconds)) MB/s (\(format(r.seconds, 2)) s), "
                    + "WAL \(format(megabytes / w.seconds)) MB/s (\(format(w.seconds, 2)) s, \(w.batches) batches, "
                    + "\(format(Double(records) / Double(max(w.batches, 1)))) records/batch)"
            )
        }
        let ratio = median(wal) / median(raw)
        print("| records | record size | raw batch | WAL writers | raw MB/s | WAL MB/s | WAL/raw | WAL records/batch | raw fsync ms | WAL fsync ms |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        print(
            "| \(records) | \(recordSize) B | \(batch) | \(writers) | \(format(median(raw))) | \(format(median(wal))) | "
                + "\(format(ratio, 2)) | \(format(median(walBatch))) | \(format(median(rawFsyncMs), 2)) | \(format(median(walFsyncMs), 2)) |"
        )
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "wal":
        try await WALBenchmark(arguments: Array(arguments.dropFirst())).run()
    case "logstore":
        try LogStoreBenchmark(arguments: Array(arguments.dropFirst())).run()
    default:
        printError("usage: SightlineBenchmarks wal [--dir D] [--records N] [--record-size B] [--batch K] [--writers W] [--runs R]")
        printError("       SightlineBenchmarks logstore --input gen_logs.ndjson [--dir D] [--records N] [--batch K] [--persist-every N] [--needle S]")
        exit(2)
    }
} catch {
    printError("error: \(error)")
    exit(1)
}
