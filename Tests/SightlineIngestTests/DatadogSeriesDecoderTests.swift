import SightlineCore
import Testing

@testable import SightlineIngest

struct DatadogSeriesDecoderTests {
    private func lines(_ samples: [MetricSample]) -> [String] {
        samples.map { "\($0.labels) \($0.value) \($0.timestampMs)" }
    }

    @Test func v1SeriesWithHostDeviceAndTags() throws {
        let body = #"""
            {"series": [
              {"metric": "system.disk.used", "points": [[1700000000, 12.5], [1700000010.7, 13]], "host": "h1", "device": "sda",
               "tags": ["env:prod", "canary", "url:http://a:1/b"], "type": "gauge", "interval": 10},
              {"metric": "my app!!.requests", "points": [[0, 1]], "tags": ["host:ignored-after-host"], "host": "h2"}
            ]}
            """#
        let samples = try Array(body.utf8).withUnsafeBytes { try DatadogSeriesDecoder.decodeV1(json: $0, nowMs: 42_000) }
        #expect(lines(samples) == [
            #"system.disk.used{canary="no_label_value", device="sda", env="prod", host="h1", url="http://a:1/b"} 12.5 1700000000000"#,
            #"system.disk.used{canary="no_label_value", device="sda", env="prod", host="h1", url="http://a:1/b"} 13.0 1700000010000"#,
            #"my_app.requests{host="h2"} 1.0 42000"#,
        ])
    }

    @Test func v2JSONAndProtobufDecodeAlike() throws {
        let json = #"""
            {"series": [{"metric": "queue.depth", "type": 3, "points": [{"timestamp": 1700000000, "value": 7}, {"value": 8}],
              "resources": [{"name": "h1", "type": "host"}], "tags": ["team:db"], "source_type_name": "kafka", "unit": "item"}]}
            """#
        let fromJSON = try Array(json.utf8).withUnsafeBytes { try DatadogSeriesDecoder.decodeV2(json: $0, nowMs: 42_000) }
        var writer = ProtobufWriter()
        writer.writeMessage(1) { series in
            series.writeMessage(1) { resource in
                resource.writeString(1, "host")
                resource.writeString(2, "h1")
            }
            series.writeString(2, "queue.depth")
            series.writeString(3, "team:db")
            series.writeMessage(4) { point in
                point.writeDouble(1, 7)
                point.writeInt64(2, 1_700_000_000)
            }
            series.writeMessage(4) { point in point.writeDouble(1, 8) }
            series.writeVarint(5, 3)
            series.writeString(6, "item")
            series.writeString(7, "kafka")
            series.writeInt64(8, 10)
        }
        let fromProtobuf = try writer.bytes.withUnsafeBytes { try DatadogSeriesDecoder.decodeV2(protobuf: $0, nowMs: 42_000) }
        #expect(lines(fromJSON) == [
            #"queue.depth{host="h1", source_type_name="kafka", team="db"} 7.0 1700000000000"#,
            #"queue.depth{host="h1", source_type_name="kafka", team="db"} 8.0 42000"#,
        ])
        #expect(lines(fromProtobuf) == lines(fromJSON))
    }

    @Test(arguments: [
        ("before.dot.metric!.name", "before.dot.metric.name"),
        ("in.the.middle.met!ric.name", "in.the.middle.met_ric.name"),
        ("many.consecutive.met!!!!ric!!.!!name", "many.consecutive.met_ric.name"),
        ("how.about.underscores_.!_metric!_!.__!!name", "how.about.underscores.metric.name"),
        ("plain_name", "plain_name"),
    ])
    func namesAreSanitizedAsDatadogDoes(name: String, expected: String) {
        #expect(DatadogSeriesDecoder.sanitizedName(name) == expected)
    }

    @Test func badBodiesNameTheProblem() {
        func message(_ text: String, version: Int = 1) -> String {
            do {
                _ = try Array(text.utf8).withUnsafeBytes {
                    version == 1 ? try DatadogSeriesDecoder.decodeV1(json: $0, nowMs: 0) : try DatadogSeriesDecoder.decodeV2(json: $0, nowMs: 0)
                }
                return "decoded"
            } catch {
                return "\(error)"
            }
        }
        #expect(message("[]").contains(#"expected an object with a "series" array"#))
        #expect(message(#"{"series": [{"points": []}]}"#).contains(#"series[0]: missing "metric""#))
        #expect(message(#"{"series": [{"metric": "m", "points": [[1]]}]}"#).contains("series[0]: points[0] must be [timestamp, value]"))
        #expect(message(#"{"series": [{"metric": "m", "points": [{"timestamp": 1}]}]}"#, version: 2).contains("points[0] must be {\"timestamp\""))
        #expect(message(#"{"series": [{"metric": "", "points": [[1, 2]]}]}"#).contains("has no valid characters"))
        #expect(message("{").contains("invalid Datadog series JSON"))
    }
}

/// `Content-Encoding: deflate`: the zlib format (checksum checked), or raw DEFLATE as some clients send it.
struct DeflateContentDecodingTests {
    private let plain = #"{"series":[]} and some more text to compress, text to compress"#
    private let zlib: [UInt8] = [
        120, 156, 171, 86, 42, 78, 45, 202, 76, 45, 86, 178, 138, 142, 173, 85, 72, 204, 75, 81, 40, 206, 207, 77, 85, 200, 205, 47, 74,
        85, 40, 73, 173, 40, 81, 40, 201, 87, 72, 206, 207, 45, 40, 74, 45, 46, 214, 193, 16, 1, 0, 191, 109, 22, 200,
    ]

    private func decode(_ bytes: [UInt8]) throws -> String {
        String(decoding: try bytes.withUnsafeBytes { try ContentDecoding.decode($0, encoding: "deflate", limit: 1 << 20) }, as: UTF8.self)
    }

    @Test func zlibAndRawStreamsDecode() throws {
        #expect(try decode(zlib) == plain)
        #expect(try decode(Array(zlib[2..<(zlib.count - 4)])) == plain)
    }

    @Test func aWrongChecksumOrAnUnknownEncodingIsRefused() {
        var corrupted = zlib
        corrupted[corrupted.count - 1] ^= 1
        #expect(throws: SightlineError.self) { try decode(corrupted) }
        do {
            _ = try [UInt8]([1]).withUnsafeBytes { try ContentDecoding.decode($0, encoding: "br", limit: 10) }
            Issue.record("br was accepted")
        } catch let failure as SightlineError {
            #expect(failure.code == .unsupportedMediaType && failure.message.contains("use gzip, deflate, snappy"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
