import HTTPTypes
package import Hummingbird
import NIOCore
package import SightlineCore
import SightlineQuery

/// The parameters of a Prometheus API request, from the query string and from an
/// `application/x-www-form-urlencoded` body, merged as Go's `Request.Form` merges them: body values first, so for a
/// parameter given in both places the body wins, and repeated parameters (`match[]`) keep every value.
package struct PrometheusAPIParameters: Sendable {
    /// The most body bytes read, as Go's `ParseForm` reads at most 10 MB.
    package static let maxFormBytes = 10 << 20

    /// Every name/value pair in order.
    package private(set) var pairs: [(name: String, value: String)]

    /// Parameters from pairs already decoded.
    package init(pairs: [(name: String, value: String)]) {
        self.pairs = pairs
    }

    /// Reads the query string and, for a form body, the body.
    /// - Throws: `PrometheusAPIError` bad_data when the body is over ``maxFormBytes``.
    package static func read(_ request: Request) async throws -> PrometheusAPIParameters {
        var pairs: [(name: String, value: String)] = []
        if request.method == .post || request.method == .put || request.method == .patch,
            let contentType = request.headers[.contentType],
            contentType.split(separator: ";").first.map({ $0.filter { $0 != " " && $0 != "\t" }.lowercased() })
                == "application/x-www-form-urlencoded"
        {
            var request = request
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: maxFormBytes)
            } catch {
                throw PrometheusAPIError(.badData, "error parsing form values: http: POST too large")
            }
            pairs += decodeForm(String(buffer: body))
        }
        pairs += decodeForm(request.uri.query ?? "")
        return PrometheusAPIParameters(pairs: pairs)
    }

    /// The first value of `name`, or "" as Go's `FormValue` answers for a missing parameter.
    package subscript(name: String) -> String {
        pairs.first(where: { $0.name == name })?.value ?? ""
    }

    /// Every value of `name`.
    package func values(_ name: String) -> [String] {
        pairs.filter { $0.name == name }.map(\.value)
    }

    // MARK: - Typed parameters

    /// A time parameter, Prometheus' `parseTime`: the message has no `invalid time value for` prefix (as for
    /// `query_range`'s `start` and `end`, which are required).
    package func requiredTime(_ name: String) throws -> Int64 {
        let text = self[name]
        guard let ms = PrometheusAPITime.parse(text) else {
            throw PrometheusAPIError.invalidParameter(name, "cannot parse \(GoText.quote(text)) to a valid timestamp")
        }
        return ms
    }

    /// An optional time parameter, Prometheus' `parseTimeParam`: `defaultMs` when missing or empty.
    package func time(_ name: String, default defaultMs: Int64) throws -> Int64 {
        let text = self[name]
        if text.isEmpty { return defaultMs }
        guard let ms = PrometheusAPITime.parse(text) else {
            throw PrometheusAPIError.invalidParameter(
                name, "invalid time value for '\(name)': cannot parse \(GoText.quote(text)) to a valid timestamp")
        }
        return ms
    }

    /// A duration parameter in milliseconds: float seconds (`15`, `0.5`) or a Prometheus duration (`15s`, `1h30m`).
    /// - Throws: `invalid parameter "<name>": cannot parse "x" to a valid duration`.
    package func duration(_ name: String) throws -> Int64 {
        do {
            return try Self.parseDuration(self[name])
        } catch let error as SightlineError {
            throw PrometheusAPIError.invalidParameter(name, error.message)
        }
    }

    /// The `limit` parameter as Prometheus' `parseLimitParam` reads it: 0 (no limit) when missing.
    package func limit() throws -> Int {
        let text = self["limit"]
        if text.isEmpty { return 0 }
        guard let limit = Int(text) else {
            let reason = text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-" || $0 == "+") }) && text.contains(where: \.isNumber)
                ? "value out of range" : "invalid syntax"
            throw PrometheusAPIError.invalidParameter("limit", "strconv.Atoi: parsing \(GoText.quote(text)): \(reason)")
        }
        guard limit >= 0 else { throw PrometheusAPIError.invalidParameter("limit", "limit must be non-negative") }
        return limit
    }

    /// The `match[]` selectors, each parsed to matchers, as Prometheus' `parseMatchersParam`: every set must have a
    /// matcher that does not match the empty string.
    /// - Parameter wrapped: whether a parse error is reported as an invalid `match[]` parameter (`/api/v1/series`)
    ///   rather than bare (`/api/v1/labels`, `/api/v1/label/…/values`).
    package func matcherSets(wrapped: Bool) throws -> [[LabelMatcher]] {
        var sets: [[LabelMatcher]] = []
        for selector in values("match[]") {
            do {
                sets.append(try PromQLParser.parseMetricSelector(selector))
            } catch let error as SightlineError {
                throw wrapped ? PrometheusAPIError.invalidParameter("match[]", error.message) : PrometheusAPIError(.badData, error.message)
            }
        }
        for set in sets where !set.contains(where: { !$0.matches("") }) {
            throw PrometheusAPIError(.badData, "match[] must contain at least one non-empty matcher")
        }
        return sets
    }

    // MARK: - Decoding

    /// Parses a duration as the API does (float seconds or a Prometheus duration) into milliseconds.
    /// - Throws: `SightlineError` `.invalidArgument` with Prometheus' message.
    package static func parseDuration(_ text: String) throws -> Int64 {
        try PromQLParser.parseDuration(text)
    }

    /// Decodes `a=1&b=2` as Go's `url.ParseQuery`: `+` is a space, `%XX` a byte; a pair whose escapes are malformed or
    /// that holds a `;` is skipped, as `FormValue` skips it.
    package static func decodeForm(_ text: String) -> [(name: String, value: String)] {
        var pairs: [(name: String, value: String)] = []
        for part in text.split(separator: "&", omittingEmptySubsequences: true) where !part.contains(";") {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = unescape(pieces[0]), let value = pieces.count > 1 ? unescape(pieces[1]) : "" else { continue }
            pairs.append((name, value))
        }
        return pairs
    }

    /// Decodes one form component, or nil when an escape is malformed or the bytes are not UTF-8.
    package static func unescape(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
