package import SightlineCore

/// The label-set hash Prometheus uses for `limit_ratio`'s sampling, reproduced bit for bit.
///
/// Prometheus' default build (`stringlabels`) stores a label set as one byte string: for each label in name order,
/// the name's length, the name, the value's length and the value, where a length below 255 is one byte and any other
/// length is the byte 255 followed by the length in three little-endian bytes. `Labels.Hash()` is the xxHash64 (seed
/// 0) of that string. Builds with the `slicelabels` tag hash a different encoding (`name 0xff value 0xff …`), so
/// samples chosen by `limit_ratio` match the official release binaries, not such builds.
package enum LabelsHash {
    /// xxHash64 of the `stringlabels` encoding of `labels`.
    package static func hash(_ labels: Labels) -> UInt64 {
        var bytes: [UInt8] = []
        var size = 0
        for label in labels.labels {
            size += label.name.utf8.count + label.value.utf8.count + 2
        }
        bytes.reserveCapacity(size)
        for label in labels.labels {
            appendString(label.name, to: &bytes)
            appendString(label.value, to: &bytes)
        }
        return XXHash64.hash(bytes)
    }

    /// The sampling offset of a series in [0, 1]: ``hash(_:)`` divided by `UInt64.max`, both as doubles.
    package static func sampleOffset(_ labels: Labels) -> Double {
        Double(hash(labels)) / Double(UInt64.max)
    }

    /// Whether a series with sampling offset `offset` belongs to `limit_ratio(ratio, …)`: `offset < ratio` for a
    /// non-negative ratio, `offset >= 1 + ratio` for a negative one.
    package static func keepForRatio(_ ratio: Double, offset: Double) -> Bool {
        (ratio >= 0 && offset < ratio) || (ratio < 0 && offset >= 1.0 + ratio)
    }

    private static func appendString(_ string: String, to bytes: inout [UInt8]) {
        let count = string.utf8.count
        if count < 255 {
            bytes.append(UInt8(count))
        } else {
            bytes.append(255)
            bytes.append(UInt8(truncatingIfNeeded: count))
            bytes.append(UInt8(truncatingIfNeeded: count >> 8))
            bytes.append(UInt8(truncatingIfNeeded: count >> 16))
        }
        bytes.append(contentsOf: string.utf8)
    }
}
