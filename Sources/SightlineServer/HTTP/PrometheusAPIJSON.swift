import HTTPTypes
package import Hummingbird
import NIOCore
package import SightlineCore
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
    package static func queryData(_ value: PromQLValue) -> String {
        var out = "{\"resultType\":"
        switch value {
        case .scalar(let t, let v):
            out += "\"scalar\",\"result\":"
            appendPoint(t: t, value: PromQLFloat.formatAPI(v), to: &out)
        case .string(let t, let v):
            out += "\"string\",\"result\":"
            appendPoint(t: t, value: v, to: &out)
        case .vector(let samples):
            out += "\"vector\",\"result\":["
            for (index, sample) in samples.enumerated() {
                if index > 0 { out += "," }
                out += "{\"metric\":"
                JSONText.appendLabels(sample.dropName ? sample.metric.droppingMetricName : sample.metric, to: &out)
                out += ",\"value\":"
                appendPoint(t: sample.t, value: PromQLFloat.formatAPI(sample.v), to: &out)
                out += "}"
            }
            out += "]"
        case .matrix(let series):
            out += "\"matrix\",\"result\":["
            for (index, one) in series.enumerated() {
                if index > 0 { out += "," }
                out += "{\"metric\":"
                JSONText.appendLabels(one.metric, to: &out)
                out += ",\"values\":["
                for (pointIndex, point) in one.points.enumerated() {
                    if pointIndex > 0 { out += "," }
                    appendPoint(t: point.t, value: PromQLFloat.formatAPI(point.v), to: &out)
                }
                out += "]}"
            }
            out += "]"
        }
        out += "}"
        return out
    }

    /// `[1435781451.781,"1"]`: Unix seconds as a number, the value as a string.
    package static func appendPoint(t: Int64, value: String, to out: inout String) {
        out += "["
        PrometheusAPITime.appendJSON(t, to: &out)
        out += ","
        JSONText.appendString(value, to: &out)
        out += "]"
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
