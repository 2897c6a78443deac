/// How write-ahead log files are named: `00000001.wal`, `00000002.wal`, … in the WAL directory.
enum FileNames {
    /// The extension of a segment file, without the dot.
    static let segmentExtension = "wal"
    /// How many digits a segment number is zero-padded to.
    static let segmentDigits = 8

    /// The file name of segment `number`, e.g. `00000001.wal`.
    static func segment(_ number: Int) -> String {
        let digits = String(number)
        let padding = String(repeating: "0", count: max(0, segmentDigits - digits.count))
        return padding + digits + "." + segmentExtension
    }

    /// The path of segment `number` in `directory`.
    static func segmentPath(_ directory: String, _ number: Int) -> String {
        directory.hasSuffix("/") ? directory + segment(number) : directory + "/" + segment(number)
    }

    /// The segment number a file name stands for, or `nil` when it is not a segment file name.
    static func segmentNumber(fileName: String) -> Int? {
        let suffix = "." + segmentExtension
        guard fileName.hasSuffix(suffix) else { return nil }
        let digits = fileName.dropLast(suffix.count)
        guard digits.count >= segmentDigits, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(digits)
    }
}
