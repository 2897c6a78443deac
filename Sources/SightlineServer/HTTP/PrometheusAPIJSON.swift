import HTTPTypes
package import Hummingbird
import NIOCore
import SightlineCore
package import SightlineQuery

/// Writes Prometheus API success responses byte for byte as Prometheus' JSON codec writes them:
/// `{"status":"success","data":…,"warnings":[…],"infos":[…]}`, with warnings and infos only when there are some.
package enum PrometheusAPIJSON {
    /// A success response around `data`, which is JSON already.
    package static func success(data: String, warnings: [String] = [], infos: [String] = []) -> Response {
        var out = "{\"status\":\"success\",\"data\":"
        out.reserveCapacity(data.utf8.count + 64)
        out += data
        if !warnings.isEmpty {
            out += ",\"warnings\":"
            appendStrings(warnings, to: &out)
        }
        if !infos.isEmpty {
            out += ",\"infos\":"
            appendStrings(infos, to: &out)
        }
        out += "}"
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: out)))
    }

    /// `{"resultType":"vector","result":[…]}` for a query result.
    ///
    /// Written as bytes: a range query's answer is mostly points, tens of thousands of them, and appending each
    /// piece to a `String` cost more than evaluating the query.
    package static func queryData(_ value: PromQLValue) -> String {
        var out: [UInt8] = []
        func append(_ text: StaticString) {
            text.withUTF8Buffer { out.append(contentsOf: $0) }
        }
        func appendLabels(_ labels: Labels) {
            var text = ""
            JSONText.appendLabels(labels, to: &text)
            out.append(contentsOf: text.utf8)
        }
        append("{\"resultType\":")
        switch value {
        case .scalar(let t, let v):
            append("\"scalar\",\"result\":")
            appendPoint(t: t, value: v, to: &out)
        case .string(let t, let v):
            append("\"string\",\"result\":")
            var text = ""
            JSONText.appendString(v, to: &text)
            appendPoint(t: t, quotedValue: text, to: &out)
        case .vector(let samples):
            out.reserveCapacity(samples.count * 96)
            append("\"vector\",\"result\":[")
            for (index, sample) in samples.enumerated() {
                if index > 0 { append(",") }
                append("{\"metric\":")
                appendLabels(sample.dropName ? sample.metric.droppingMetricName : sample.metric)
                append(",\"value\":")
                appendPoint(t: sample.t, value: sample.v, to: &out)
                append("}")
            }
            append("]")
        case .matrix(let series):
            out.reserveCapacity(series.reduce(0) { $0 + 64 + $1.points.count * 32 })
            append("\"matrix\",\"result\":[")
            for (index, one) in series.enumerated() {
                if index > 0 { append(",") }
                append("{\"metric\":")
                appendLabels(one.metric)
                append(",\"values\":[")
                for (pointIndex, point) in one.points.enumerated() {
                    if pointIndex > 0 { append(",") }
                    appendPoint(t: point.t, value: point.v, to: &out)
                }
                append("]}")
            }
            append("]")
        }
        append("}")
        return String(decoding: out, as: UTF8.self)
    }

    /// `[1435781451.781,"1"]`: Unix seconds as a number, the value as a string (formatted as Prometheus does).
    static func appendPoint(t: Int64, value: Double, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        PrometheusAPITime.appendJSON(t, to: &out)
        out.append(UInt8(ascii: ","))
        out.append(UInt8(ascii: "\""))
        // Formatted values hold no character JSON escapes.
        out.append(contentsOf: PromQLFloat.formatAPI(value).utf8)
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: "]"))
    }

    /// `[1435781451.781,"text"]` with a value already quoted for JSON.
    private static func appendPoint(t: Int64, quotedValue: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        PrometheusAPITime.appendJSON(t, to: &out)
        out.append(UInt8(ascii: ","))
        out.append(contentsOf: quotedValue.utf8)
        out.append(UInt8(ascii: "]"))
    }

    /// `["a","b"]`.
    package static func appendStrings(_ strings: [String], to out: inout String) {
        out += "["
        for (index, string) in strings.enumerated() {
            if index > 0 { out += "," }
            JSONText.appendString(string, to: &out)
        }
        out += "]"
    }
}

extension Labels {
    /// The labels without `__name__`.
    fileprivate var droppingMetricName: Labels {
        Labels(labels.filter { $0.name != Labels.metricName })
    }
}
