/// The binary layout of attribute values, attribute lists, instrumentation scopes and label sets, shared by every
/// format that stores them: the WAL's batches, log parts and trace parts. A tagged value is a tag byte, then the
/// value (strings and bytes length-prefixed, integers zigzag varints, doubles 8 bytes little-endian, arrays and
/// key-value lists a count and their elements). Changing it changes all of those formats at once.
extension ByteWriter {
    /// Writes one tagged value.
    package mutating func writeAttributeValue(_ value: AttributeValue) {
        switch value {
        case .empty: writeByte(0)
        case .string(let s):
            writeByte(1)
            writeString(s)
        case .bool(let b):
            writeByte(2)
            writeByte(b ? 1 : 0)
        case .int(let i):
            writeByte(3)
            writeSignedVarint(i)
        case .double(let d):
            writeByte(4)
            writeDouble(d)
        case .bytes(let b):
            writeByte(5)
            writeBytes(b)
        case .array(let values):
            writeByte(6)
            writeVarint(UInt64(values.count))
            for v in values { writeAttributeValue(v) }
        case .keyValueList(let attributes):
            writeByte(7)
            writeAttributes(attributes)
        }
    }

    /// Writes a count, then each key and tagged value.
    package mutating func writeAttributes(_ attributes: [Attribute]) {
        writeVarint(UInt64(attributes.count))
        // Through a pointer: iterating the array copies each pair (key and value retained).
        attributes.withUnsafeBufferPointer { attributes in
            guard let base = attributes.baseAddress else { return }
            for index in attributes.indices {
                writeString((base + index).pointee.key)
                writeAttributeValue((base + index).pointee.value)
            }
        }
    }

    /// Writes a scope: name, version, attributes.
    package mutating func writeScope(_ scope: InstrumentationScope) {
        writeString(scope.name)
        writeString(scope.version)
        writeAttributes(scope.attributes)
    }

    /// Writes label pairs: a count, then names and values.
    package mutating func writeLabels(_ labels: Labels) {
        writeVarint(UInt64(labels.labels.count))
        labels.labels.withUnsafeBufferPointer { labels in
            guard let base = labels.baseAddress else { return }
            for index in labels.indices {
                writeString((base + index).pointee.name)
                writeString((base + index).pointee.value)
            }
        }
    }
}

extension ByteReader {
    /// Reads what ``ByteWriter/writeAttributeValue(_:)`` wrote; nesting is limited to 64 levels (our writers never
    /// nest that deep, so deeper means damage).
    package mutating func readAttributeValue(depth: Int = 0) throws -> AttributeValue {
        guard depth < 64 else { throw SightlineError(.dataCorrupted, "attribute values nested deeper than 64 levels") }
        let tag = try readByte()
        switch tag {
        case 0: return .empty
        case 1: return .string(try readString())
        case 2: return .bool(try readByte() != 0)
        case 3: return .int(try readSignedVarint())
        case 4: return .double(try readDouble())
        case 5: return .bytes(try readBytes())
        case 6:
            let count = try readCount()
            var values: [AttributeValue] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(try readAttributeValue(depth: depth + 1)) }
            return .array(values)
        case 7: return .keyValueList(try readAttributes(depth: depth + 1))
        default: throw SightlineError(.dataCorrupted, "unknown attribute value tag \(tag)")
        }
    }

    /// Reads what ``ByteWriter/writeAttributes(_:)`` wrote.
    package mutating func readAttributes(depth: Int = 0) throws -> [Attribute] {
        let count = try readCount()
        var attributes: [Attribute] = []
        attributes.reserveCapacity(count)
        for _ in 0..<count { attributes.append(Attribute(try readString(), try readAttributeValue(depth: depth))) }
        return attributes
    }

    /// Reads what ``ByteWriter/writeScope(_:)`` wrote.
    package mutating func readScope() throws -> InstrumentationScope {
        InstrumentationScope(name: try readString(), version: try readString(), attributes: try readAttributes())
    }

    /// Reads what ``ByteWriter/writeLabels(_:)`` wrote.
    package mutating func readLabels() throws -> Labels {
        let count = try readCount()
        var labels: [Label] = []
        labels.reserveCapacity(count)
        for _ in 0..<count { labels.append(Label(try readString(), try readString())) }
        return Labels(labels)
    }
}
