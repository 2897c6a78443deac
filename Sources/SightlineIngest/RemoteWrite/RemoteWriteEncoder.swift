package import SightlineCore

/// Encodes samples and exemplars as a Prometheus remote write 1.0 `WriteRequest`, for the agent to send.
///
/// Samples and exemplars of one series become one `TimeSeries`, in the order each series first appears; they keep
/// their order in the input (senders pass them in time order). Labels are written sorted by name, as `Labels` holds them
/// and the protocol requires. Field numbers are those ``RemoteWriteDecoder`` reads.
///
/// ```swift
/// let body = RemoteWriteEncoder.encodeSnappy(samples, metadata: [])
/// // POST body with Content-Encoding: snappy, Content-Type: application/x-protobuf,
/// // X-Prometheus-Remote-Write-Version: 0.1.0
/// ```
package enum RemoteWriteEncoder {
    /// Encodes `samples`, `exemplars` and `metadata` as a `WriteRequest` protobuf.
    /// - Parameters:
    ///   - samples: The samples, grouped by series in the output.
    ///   - metadata: Metric family metadata, written after the series.
    ///   - exemplars: Exemplars, each in its series' `TimeSeries`.
    /// - Returns: The serialized `WriteRequest`.
    package static func encode(_ samples: [MetricSample], metadata: [MetricMetadata], exemplars: [MetricExemplar] = []) -> [UInt8] {
        var seriesIndex: [Labels: Int] = [:]
        var series: [(labels: Labels, samples: [Int], exemplars: [Int])] = []
        seriesIndex.reserveCapacity(samples.count)
        for (index, sample) in samples.enumerated() {
            if let existing = seriesIndex[sample.labels] {
                series[existing].samples.append(index)
            } else {
                seriesIndex[sample.labels] = series.count
                series.append((sample.labels, [index], []))
            }
        }
        for (index, exemplar) in exemplars.enumerated() {
            if let existing = seriesIndex[exemplar.series] {
                series[existing].exemplars.append(index)
            } else {
                seriesIndex[exemplar.series] = series.count
                series.append((exemplar.series, [], [index]))
            }
        }

        var writer = ProtobufWriter(capacity: samples.count * 64 + 64)
        for (labels, indices, exemplarIndices) in series {
            writer.writeMessage(1) { timeSeries in
                for label in labels.labels {
                    timeSeries.writeMessage(1) { message in
                        message.writeString(1, label.name)
                        message.writeString(2, label.value)
                    }
                }
                for index in indices {
                    let sample = samples[index]
                    timeSeries.writeMessage(2) { message in
                        if sample.value.bitPattern != 0 { message.writeDouble(1, sample.value) }
                        if sample.timestampMs != 0 { message.writeInt64(2, sample.timestampMs) }
                    }
                }
                for index in exemplarIndices {
                    let exemplar = exemplars[index]
                    timeSeries.writeMessage(3) { message in
                        for label in exemplar.labels.labels {
                            message.writeMessage(1) { pair in
                                pair.writeString(1, label.name)
                                pair.writeString(2, label.value)
                            }
                        }
                        if exemplar.value.bitPattern != 0 { message.writeDouble(2, exemplar.value) }
                        if exemplar.timestampMs != 0 { message.writeInt64(3, exemplar.timestampMs) }
                    }
                }
            }
        }
        for family in metadata {
            writer.writeMessage(3) { message in
                if family.kind != .unknown { message.writeVarint(1, UInt64(family.kind.rawValue)) }
                if !family.metricFamily.isEmpty { message.writeString(2, family.metricFamily) }
                if !family.help.isEmpty { message.writeString(4, family.help) }
                if !family.unit.isEmpty { message.writeString(5, family.unit) }
            }
        }
        return writer.bytes
    }

    /// Encodes `samples` and `metadata` as a `WriteRequest` and compresses it into a Snappy block, the body remote
    /// write sends.
    /// - Parameters:
    ///   - samples: The samples, grouped by series in the output.
    ///   - metadata: Metric family metadata.
    /// - Returns: The Snappy-compressed `WriteRequest`.
    package static func encodeSnappy(_ samples: [MetricSample], metadata: [MetricMetadata], exemplars: [MetricExemplar] = []) -> [UInt8] {
        Snappy.compress(encode(samples, metadata: metadata, exemplars: exemplars))
    }
}
