/// URL percent-encoding of a query component: every byte but the unreserved `A-Z a-z 0-9 - _ . ~` becomes `%XX`
/// (upper-case hex). With `spaceAsPlus`, a space becomes `+`, as Go's `url.QueryEscape` and form encoding write it.
package enum PercentEncoding {
    package static func encode(_ text: String, spaceAsPlus: Bool = false) -> String {
        let hex = Array("0123456789ABCDEF".unicodeScalars)
        var out = ""
        out.unicodeScalars.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " ") where spaceAsPlus:
                out.unicodeScalars.append("+")
            default:
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0x0F)])
            }
        }
        return out
    }

    /// `a=1&b=x%20y`: name-value pairs in their order, each side as ``encode(_:spaceAsPlus:)`` writes it.
    package static func form(_ pairs: some Sequence<(String, String)>, spaceAsPlus: Bool = false) -> String {
        pairs.map { encode($0.0, spaceAsPlus: spaceAsPlus) + "=" + encode($0.1, spaceAsPlus: spaceAsPlus) }.joined(separator: "&")
    }
}
