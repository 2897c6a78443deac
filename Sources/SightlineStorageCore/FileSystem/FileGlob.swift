#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Shell-style path patterns (`rules/*.yml`, `/var/log/app-?.log`), expanded by the C library's `glob`.
package enum FileGlob {
    /// The existing paths that match any of `patterns`, sorted and without repeats. A pattern without glob characters
    /// is kept as it is when `keepingLiterals` is set (so that a missing file can be reported rather than skipped);
    /// otherwise it is a match only when the file exists, as Go's `filepath.Glob` has it.
    package static func paths(_ patterns: [String], keepingLiterals: Bool = false) -> [String] {
        var paths: [String] = []
        for pattern in patterns {
            if keepingLiterals && !pattern.contains(where: { "*?[".contains($0) }) {
                paths.append(pattern)
                continue
            }
            var matches = glob_t()
            defer { globfree(&matches) }
            guard glob(pattern, 0, nil, &matches) == 0 else { continue }
            var found: [String] = []
            for index in 0..<Int(matches.gl_pathc) {
                if let path = matches.gl_pathv[index] { found.append(String(cString: path)) }
            }
            paths += found.sorted()
        }
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }
}
