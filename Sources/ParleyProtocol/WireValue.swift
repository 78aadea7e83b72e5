/// A Swift type with one JSON form on the wire, read by ``JSONReader`` and written by
/// ``JSONWriter``; its `Codable` conformance describes the same form for other coders.
public protocol WireValue: Codable, Sendable {
    /// Reads one value at the reader's position; nil after `fields` recorded why not.
    static func read(_ fields: inout WireFields) -> Self?
    /// Writes the value (`inout` so that objects are written without a copy).
    static func write(_ value: inout Self, _ fields: inout WireFields)
}

extension String: WireValue {
    public static func read(_ fields: inout WireFields) -> String? {
        fields.reading { (reader: inout JSONReader) throws(WireError) in try reader.readString() }
    }

    public static func write(_ value: inout String, _ fields: inout WireFields) { fields.writer.string(value) }
}

extension Int: WireValue {
    public static func read(_ fields: inout WireFields) -> Int? {
        fields.reading { (reader: inout JSONReader) throws(WireError) in try reader.readInt() }
    }

    public static func write(_ value: inout Int, _ fields: inout WireFields) { fields.writer.integer(value) }
}

extension UInt64: WireValue {
    public static func read(_ fields: inout WireFields) -> UInt64? {
        fields.reading { (reader: inout JSONReader) throws(WireError) in try reader.readUInt64() }
    }

    public static func write(_ value: inout UInt64, _ fields: inout WireFields) { fields.writer.integer(value) }
}

extension Bool: WireValue {
    public static func read(_ fields: inout WireFields) -> Bool? {
        fields.reading { (reader: inout JSONReader) throws(WireError) in try reader.readBool() }
    }

    public static func write(_ value: inout Bool, _ fields: inout WireFields) { fields.writer.literal(value ? "true" : "false") }
}

extension Array: WireValue where Element: WireValue {
    public static func read(_ fields: inout WireFields) -> [Element]? { fields.readArray(of: Element.self) }

    public static func write(_ value: inout [Element], _ fields: inout WireFields) { fields.writeArray(value) }
}

/// An enum written as its string raw value; any other string is refused.
public protocol WireEnum: WireValue, RawRepresentable where RawValue == String {}

extension WireEnum {
    public static func read(_ fields: inout WireFields) -> Self? {
        fields.reading { (reader: inout JSONReader) throws(WireError) -> Self in
            let start = reader.index
            let text = try reader.readString()
            guard let value = Self(rawValue: text) else {
                throw WireError(.shape, "unknown value \"\(text.prefix(32))\"", at: start)
            }
            return value
        }
    }

    public static func write(_ value: inout Self, _ fields: inout WireFields) { fields.writer.string(value.rawValue) }
}
