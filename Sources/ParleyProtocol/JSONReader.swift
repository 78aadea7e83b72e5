/// A type read by ``JSONReader`` instead of `JSONDecoder`: the envelopes every message passes
/// through (the profile showed `JSONDecoder` at 18–20 % of relay-svc's and offline-svc's CPU).
/// Reads what the `Codable` conformance reads: unknown keys are skipped, optional keys may be
/// missing or null, required ones must be there (`v` alone may be missing: it reads as the
/// current version).
protocol JSONReadable {
    init(json reader: inout JSONReader) throws(JSONReader.Failure)
}

/// A small pull reader over one JSON document in memory (RFC 8259: strings with every escape,
/// integers, booleans, null; nesting skipped when not wanted). It never copies the input; strings
/// are validated as UTF-8.
struct JSONReader {
    /// Malformed or unexpected input, with the byte offset where it was noticed.
    struct Failure: Error, CustomStringConvertible {
        let message: String
        let offset: Int
        var description: String { "\(message) at byte \(offset)" }
    }

    /// An object key as raw bytes (keys with escapes never match a name).
    struct Key {
        fileprivate let bytes: UnsafeBufferPointer<UInt8>

        static func == (key: Key, name: StaticString) -> Bool {
            key.bytes.count == name.utf8CodeUnitCount
                && name.withUTF8Buffer { key.bytes.elementsEqual($0) }
        }
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var depth = 0
    private static let maxDepth = 64

    /// Reads a whole document as `T`; `bytes` must stay valid for the call only.
    static func read<T: JSONReadable>(_ type: T.Type, from bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> T {
        var reader = JSONReader(bytes: bytes)
        reader.skipWhitespace()
        let value = try T(json: &reader)
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw reader.failure("trailing characters") }
        return value
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func failure(_ message: String) -> Failure { Failure(message: message, offset: index) }

    // MARK: Structure

    /// Calls `body` with each key; `body` must read or skip the value.
    mutating func readObject(_ body: (inout JSONReader, Key) throws(Failure) -> Void) throws(Failure) {
        try readSequence(open: UInt8(ascii: "{"), close: UInt8(ascii: "}")) { (reader: inout JSONReader) throws(Failure) in
            let key = try reader.readKey()
            reader.skipWhitespace()
            try reader.expect(UInt8(ascii: ":"))
            reader.skipWhitespace()
            try body(&reader, key)
        }
    }

    /// Calls `body` once per element; `body` must read or skip it.
    mutating func readArray(_ body: (inout JSONReader) throws(Failure) -> Void) throws(Failure) {
        try readSequence(open: UInt8(ascii: "["), close: UInt8(ascii: "]"), body)
    }

    /// The comma-separated members of an object or array between `open` and `close`.
    private mutating func readSequence(open: UInt8, close: UInt8,
                                       _ member: (inout JSONReader) throws(Failure) -> Void) throws(Failure) {
        try enter(open)
        defer { depth -= 1 }
        skipWhitespace()
        if peek() == close {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            try member(&self)
            skipWhitespace()
            if try next() == close { return }
            guard bytes[index - 1] == UInt8(ascii: ",") else {
                throw Failure(message: "expected , or \(Character(Unicode.Scalar(close)))", offset: index - 1)
            }
        }
    }

    /// An array of `T`.
    mutating func readArray<T: JSONReadable>(of type: T.Type) throws(Failure) -> [T] {
        var items: [T] = []
        try readArray { (reader: inout JSONReader) throws(Failure) in items.append(try T(json: &reader)) }
        return items
    }

    /// An array of strings.
    mutating func readStringArray() throws(Failure) -> [String] {
        var items: [String] = []
        try readArray { (reader: inout JSONReader) throws(Failure) in items.append(try reader.readString()) }
        return items
    }

    /// The next value if it is a string; any other value is skipped and gives nil.
    mutating func readIfString() throws(Failure) -> String? {
        guard peek() == UInt8(ascii: "\"") else {
            try skipValue()
            return nil
        }
        return try readString()
    }

    /// The next value if it is an array of strings; any other value is skipped and gives nil.
    mutating func readIfStringArray() throws(Failure) -> [String]? {
        guard peek() == UInt8(ascii: "[") else {
            try skipValue()
            return nil
        }
        var items: [String]? = []
        try readArray { (reader: inout JSONReader) throws(Failure) in
            let item = try reader.readIfString()
            if let item { items?.append(item) } else { items = nil }
        }
        return items
    }

    /// Consumes `null` if it comes next; false (nothing consumed) otherwise.
    mutating func readNull() -> Bool {
        guard matchLiteral("null") else { return false }
        return true
    }

    /// Skips any value.
    mutating func skipValue() throws(Failure) {
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: "{"): try readObject { (reader: inout JSONReader, _: Key) throws(Failure) in try reader.skipValue() }
        case UInt8(ascii: "["): try readArray { (reader: inout JSONReader) throws(Failure) in try reader.skipValue() }
        case UInt8(ascii: "\""): _ = try readString()
        case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try readBool()
        case UInt8(ascii: "n"):
            guard readNull() else { throw failure("invalid literal") }
        default: try skipNumber()
        }
    }

    // MARK: Scalars

    mutating func readBool() throws(Failure) -> Bool {
        if matchLiteral("true") { return true }
        if matchLiteral("false") { return false }
        throw failure("expected true or false")
    }

    /// A non-negative integer (no fraction, no exponent).
    mutating func readUInt64() throws(Failure) -> UInt64 {
        let start = index
        var value: UInt64 = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(bytes[index] - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw failure("integer too large") }
            value = sum
            index += 1
        }
        guard index > start else { throw failure("expected an integer") }
        guard index - start == 1 || bytes[start] != UInt8(ascii: "0") else { throw Failure(message: "leading zero", offset: start) }
        if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
            throw failure("expected an integer")
        }
        return value
    }

    mutating func readInt() throws(Failure) -> Int {
        let negative = peek() == UInt8(ascii: "-")
        if negative { index += 1 }
        let magnitude = try readUInt64()
        guard magnitude <= UInt64(Int.max) else { throw failure("integer too large") }
        return negative ? -Int(magnitude) : Int(magnitude)
    }

    mutating func readString() throws(Failure) -> String {
        try expect(UInt8(ascii: "\""))
        let start = index
        // Fast path: no escapes, so the bytes are the string.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                guard let string = String(validating: slice, as: UTF8.self) else { throw Failure(message: "invalid UTF-8", offset: start) }
                return string
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw failure("control character in string") }
            index += 1
        }
        var utf8 = Array(bytes[start..<index])
        while true {
            guard index < bytes.count else { throw failure("unterminated string") }
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let string = String(validating: utf8, as: UTF8.self) else { throw Failure(message: "invalid UTF-8", offset: start) }
                return string
            case UInt8(ascii: "\\"):
                try readEscape(into: &utf8)
            case 0..<0x20:
                throw Failure(message: "control character in string", offset: index - 1)
            default:
                utf8.append(byte)
            }
        }
    }

    // MARK: Internals

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): index += 1
            default: return
            }
        }
    }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func next() throws(Failure) -> UInt8 {
        guard index < bytes.count else { throw failure("unexpected end") }
        defer { index += 1 }
        return bytes[index]
    }

    private mutating func expect(_ byte: UInt8) throws(Failure) {
        guard peek() == byte else { throw failure("expected \(Character(Unicode.Scalar(byte)))") }
        index += 1
    }

    private mutating func enter(_ byte: UInt8) throws(Failure) {
        try expect(byte)
        depth += 1
        guard depth <= Self.maxDepth else { throw failure("nested too deeply") }
    }

    private mutating func matchLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count,
              literal.withUTF8Buffer({ UnsafeBufferPointer(rebasing: bytes[index..<index + count]).elementsEqual($0) })
        else { return false }
        index += count
        return true
    }

    private mutating func readKey() throws(Failure) -> Key {
        try expect(UInt8(ascii: "\""))
        let start = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
            if bytes[index] == UInt8(ascii: "\\") { index += 1 }  // keep escapes raw; such keys match nothing
            index += 1
        }
        guard index < bytes.count else { throw failure("unterminated key") }
        defer { index += 1 }
        return Key(bytes: UnsafeBufferPointer(rebasing: bytes[start..<index]))
    }

    private mutating func skipNumber() throws(Failure) {
        let start = index
        while index < bytes.count, "+-0123456789.eE".utf8.contains(bytes[index]) { index += 1 }
        guard index > start else { throw failure("unexpected character") }
    }

    private mutating func readEscape(into utf8: inout [UInt8]) throws(Failure) {
        let byte = try next()
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(byte)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try readHex4()
            if (0xD800..<0xDC00).contains(scalar) {
                guard matchLiteral("\\u") else { throw failure("unpaired surrogate") }
                let low = try readHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw failure("unpaired surrogate") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw failure("unpaired surrogate")
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw failure("invalid escape") }
            utf8.append(contentsOf: UTF8.encode(unicode)!)
        default:
            throw Failure(message: "invalid escape", offset: index - 1)
        }
    }

    private mutating func readHex4() throws(Failure) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = try next()
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Failure(message: "invalid \\u escape", offset: index - 1)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}
