/// A pull reader over one JSON document in memory, strict per RFC 8259: the number grammar,
/// escapes and surrogate pairs, no control characters in strings or keys, valid UTF-8 in every
/// string (skipped ones too), no trailing commas, no byte-order mark, at most 64 levels of
/// nesting. It never copies the input; the caller keeps the bytes alive for the read.
///
/// Values are read at the reader's position (whitespace before them already skipped). A value
/// of the wrong JSON type is a `.shape` error, bytes that are not JSON a `.syntax` error.
struct JSONReader {
    /// An object key: its bytes in the input, or decoded when it had escapes.
    enum Key {
        case raw(UnsafeBufferPointer<UInt8>)
        case decoded([UInt8])

        var string: String {
            switch self {
            case .raw(let bytes): String(decoding: bytes, as: UTF8.self)
            case .decoded(let bytes): String(decoding: bytes, as: UTF8.self)
            }
        }

        static func == (key: Key, name: StaticString) -> Bool {
            name.withUTF8Buffer { name in
                switch key {
                case .raw(let bytes): JSONReader.equal(bytes, name)
                case .decoded(let bytes): bytes.withUnsafeBufferPointer { JSONReader.equal($0, name) }
                }
            }
        }
    }

    /// A position to come back to (lenient readers skip a value they could not use).
    struct Mark {
        fileprivate let index: Int
        fileprivate let depth: Int
    }

    static let maxDepth = 64

    private let bytes: UnsafeBufferPointer<UInt8>
    private(set) var index = 0
    private var depth = 0

    /// Reads `bytes` as one document with `body`; only whitespace may surround the value.
    static func document(_ bytes: some Collection<UInt8>, _ body: (inout JSONReader) throws(WireError) -> Void) throws(WireError) {
        // Not generic in what `body` reads: a generic result here costs a metadata lookup per call.
        func read(_ buffer: UnsafeBufferPointer<UInt8>) -> WireError? {
            var reader = JSONReader(bytes: buffer)
            do {
                reader.skipWhitespace()
                try body(&reader)
                reader.skipWhitespace()
                return reader.index == buffer.count ? nil : reader.error(.syntax, "trailing characters")
            } catch {
                return error
            }
        }
        let failure = bytes.withContiguousStorageIfAvailable(read) ?? Array(bytes).withUnsafeBufferPointer(read)
        if let failure { throw failure }
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// A reader over no bytes, for passes that do not read.
    static var empty: JSONReader { JSONReader(bytes: UnsafeBufferPointer(start: nil, count: 0)) }

    func error(_ code: WireError.Code, _ message: String) -> WireError { WireError(code, message, at: index) }

    var mark: Mark { Mark(index: index, depth: depth) }

    mutating func reset(to mark: Mark) {
        index = mark.index
        depth = mark.depth
    }

    // MARK: Objects and arrays

    /// Enters an object (`{`) or array (`[`).
    mutating func enter(_ open: UInt8) throws(WireError) {
        guard peek() == open else { throw mismatch(open == UInt8(ascii: "{") ? "an object" : "an array") }
        index += 1
        depth += 1
        guard depth <= Self.maxDepth else { throw error(.syntax, "nested too deeply") }
    }

    /// Whether another member or element follows (its comma consumed); false after `close`,
    /// which leaves the object or array.
    mutating func hasNext(_ close: UInt8, first: Bool) throws(WireError) -> Bool {
        skipWhitespace()
        guard let byte = peek() else { throw error(.syntax, "unexpected end") }
        if byte == close {
            index += 1
            depth -= 1
            return false
        }
        if !first {
            guard byte == UInt8(ascii: ",") else { throw error(.syntax, "expected , or \(Character(Unicode.Scalar(close)))") }
            index += 1
            skipWhitespace()
            guard peek() != close else { throw error(.syntax, "trailing comma") }
        }
        return true
    }

    /// An object key and its colon.
    mutating func readKey() throws(WireError) -> Key {
        guard peek() == UInt8(ascii: "\"") else { throw error(.syntax, "expected a key") }
        let key = try stringKey()
        skipWhitespace()
        guard peek() == UInt8(ascii: ":") else { throw error(.syntax, "expected :") }
        index += 1
        skipWhitespace()
        return key
    }

    /// Skips a value as ``skipValue()`` does and returns its bytes.
    mutating func skipValueKeepingBytes() throws(WireError) -> [UInt8] {
        let start = index
        try skipValue()
        return Array(bytes[start..<index])
    }

    /// Skips any value, checking it as strictly as a read would.
    mutating func skipValue() throws(WireError) {
        guard let byte = peek() else { throw error(.syntax, "unexpected end") }
        switch byte {
        case UInt8(ascii: "{"):
            try enter(UInt8(ascii: "{"))
            var first = true
            while try hasNext(UInt8(ascii: "}"), first: first) {
                first = false
                _ = try readKey()
                try skipValue()
            }
        case UInt8(ascii: "["):
            try enter(UInt8(ascii: "["))
            var first = true
            while try hasNext(UInt8(ascii: "]"), first: first) {
                first = false
                try skipValue()
            }
        case UInt8(ascii: "\""):
            let start = index + 1
            switch try stringToken(decode: false) {
            case .raw(let raw, let ascii):
                guard ascii || Self.isValidUTF8(raw) else { throw WireError(.syntax, "invalid UTF-8", at: start) }
            case .decoded:
                preconditionFailure("stringToken(decode: false) never decodes")
            }
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            _ = try readBool()
        case UInt8(ascii: "n"):
            guard readNull() else { throw error(.syntax, "invalid literal") }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            _ = try scanNumber()
        default:
            throw error(.syntax, "unexpected character")
        }
    }

    // MARK: Scalars

    /// Consumes `null` if it comes next; false (nothing consumed) otherwise.
    mutating func readNull() -> Bool { matchLiteral("null") }

    mutating func readBool() throws(WireError) -> Bool {
        guard let byte = peek(), byte == UInt8(ascii: "t") || byte == UInt8(ascii: "f") else { throw mismatch("true or false") }
        if matchLiteral("true") { return true }
        if matchLiteral("false") { return false }
        throw error(.syntax, "invalid literal")
    }

    mutating func readString() throws(WireError) -> String {
        guard peek() == UInt8(ascii: "\"") else { throw mismatch("a string") }
        let start = index + 1
        switch try stringToken(decode: true) {
        case .raw(let raw, let ascii):
            guard ascii || Self.isValidUTF8(raw) else { throw WireError(.syntax, "invalid UTF-8", at: start) }
            return String(decoding: raw, as: UTF8.self)
        case .decoded(let decoded):
            return try decoded.withUnsafeBufferPointer { (decoded) throws(WireError) -> String in
                guard Self.isValidUTF8(decoded) else { throw WireError(.syntax, "invalid UTF-8", at: start) }
                return String(decoding: decoded, as: UTF8.self)
            }
        }
    }

    /// A string value as a ``Key``, for comparing it without making a `String`.
    mutating func readStringKey() throws(WireError) -> Key {
        guard peek() == UInt8(ascii: "\"") else { throw mismatch("a string") }
        return try stringKey()
    }

    /// A non-negative integer written without fraction or exponent (`-0` reads as 0).
    mutating func readUInt64() throws(WireError) -> UInt64 {
        let number = try readIntegerToken()
        guard !number.negative || number.magnitude == 0 else { throw WireError(.shape, "expected a non-negative integer", at: number.start) }
        return number.magnitude
    }

    /// An integer written without fraction or exponent.
    mutating func readInt() throws(WireError) -> Int {
        let number = try readIntegerToken()
        if number.negative {
            guard number.magnitude <= UInt64(Int.max) + 1 else { throw WireError(.shape, "integer out of range", at: number.start) }
            return Int(truncatingIfNeeded: 0 &- number.magnitude)
        }
        guard number.magnitude <= UInt64(Int.max) else { throw WireError(.shape, "integer out of range", at: number.start) }
        return Int(number.magnitude)
    }

    // MARK: Internals

    private mutating func stringKey() throws(WireError) -> Key {
        let start = index + 1
        switch try stringToken(decode: true) {
        case .raw(let raw, let ascii):
            guard ascii || Self.isValidUTF8(raw) else { throw WireError(.syntax, "invalid UTF-8", at: start) }
            return .raw(raw)
        case .decoded(let decoded):
            guard decoded.withUnsafeBufferPointer(Self.isValidUTF8) else { throw WireError(.syntax, "invalid UTF-8", at: start) }
            return .decoded(decoded)
        }
    }

    private enum StringToken {
        /// The bytes between the quotes; `ascii` when all are below 0x80 (valid UTF-8 then).
        case raw(UnsafeBufferPointer<UInt8>, ascii: Bool)
        /// The string with its escapes decoded (not yet checked as UTF-8).
        case decoded([UInt8])
    }

    /// A string from its opening quote to past its closing quote: no raw control characters,
    /// only valid escapes, surrogates only in pairs. Without `decode`, escapes are checked and
    /// the raw bytes returned.
    private mutating func stringToken(decode: Bool) throws(WireError) -> StringToken {
        index += 1
        let start = index
        var high: UInt8 = 0
        var wide: UInt64 = 0
        if let base = bytes.baseAddress {
            // Eight bytes at a time while none ends the string, starts an escape or is a control.
            while index + 8 <= bytes.count {
                let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                guard !Self.hasSpecialByte(word) else { break }
                wide |= word
                index += 8
            }
        }
        if wide & 0x8080_8080_8080_8080 != 0 { high = 0x80 }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return .raw(UnsafeBufferPointer(rebasing: bytes[start..<index - 1]), ascii: high < 0x80)
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw error(.syntax, "control character in string") }
            high |= byte
            index += 1
        }
        var decoded: [UInt8] = []
        if decode { decoded = Array(bytes[start..<index]) }
        while true {
            guard index < bytes.count else { throw error(.syntax, "unterminated string") }
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return decode ? .decoded(decoded) : .raw(UnsafeBufferPointer(rebasing: bytes[start..<index - 1]), ascii: false)
            case UInt8(ascii: "\\"):
                let scalar = try readEscape()
                if decode { decoded.append(contentsOf: UTF8.encode(scalar)!) }
            case 0..<0x20:
                throw WireError(.syntax, "control character in string", at: index - 1)
            default:
                if decode { decoded.append(byte) }
            }
        }
    }

    private mutating func readEscape() throws(WireError) -> Unicode.Scalar {
        guard index < bytes.count else { throw error(.syntax, "unterminated string") }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): return Unicode.Scalar(byte)
        case UInt8(ascii: "b"): return "\u{8}"
        case UInt8(ascii: "f"): return "\u{c}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            var value = try readHex4()
            if (0xD800..<0xDC00).contains(value) {
                guard matchLiteral("\\u") else { throw error(.syntax, "unpaired surrogate") }
                let low = try readHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw error(.syntax, "unpaired surrogate") }
                value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(value) {
                throw error(.syntax, "unpaired surrogate")
            }
            return Unicode.Scalar(value)!  // every non-surrogate below 0x110000 is a scalar
        default:
            throw WireError(.syntax, "invalid escape", at: index - 1)
        }
    }

    private mutating func readHex4() throws(WireError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard index < bytes.count else { throw error(.syntax, "unterminated string") }
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error(.syntax, "invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// A number that must be an integer: its sign and magnitude.
    private mutating func readIntegerToken() throws(WireError) -> (start: Int, negative: Bool, magnitude: UInt64) {
        guard let byte = peek(), byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
            throw mismatch("an integer")
        }
        let start = index
        let number = try scanNumber()
        guard number.isInteger else { throw WireError(.shape, "expected an integer", at: start) }
        var magnitude: UInt64 = 0
        for position in number.digits {
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(bytes[position] - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw WireError(.shape, "integer out of range", at: start) }
            magnitude = sum
        }
        return (start, bytes[start] == UInt8(ascii: "-"), magnitude)
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`: where the integer digits are and
    /// whether fraction and exponent are absent.
    private mutating func scanNumber() throws(WireError) -> (digits: Range<Int>, isInteger: Bool) {
        if peek() == UInt8(ascii: "-") { index += 1 }
        let digitsStart = index
        guard let first = peek(), isDigit(first) else { throw error(.syntax, "invalid number") }
        index += 1
        if first == UInt8(ascii: "0") {
            guard !(peek().map(isDigit) ?? false) else { throw error(.syntax, "leading zero") }
        } else {
            skipDigits()
        }
        let digits = digitsStart..<index
        var isInteger = true
        if peek() == UInt8(ascii: ".") {
            index += 1
            try requireDigits()
            isInteger = false
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            try requireDigits()
            isInteger = false
        }
        return (digits, isInteger)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private mutating func skipDigits() {
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    private mutating func requireDigits() throws(WireError) {
        let start = index
        skipDigits()
        guard index > start else { throw error(.syntax, "invalid number") }
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): index += 1
            default: return
            }
        }
    }

    func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    /// The error for a value that is not `expected`: `.shape` when another JSON value starts
    /// here, `.syntax` when nothing valid does.
    private func mismatch(_ expected: String) -> WireError {
        guard let byte = peek() else { return error(.syntax, "unexpected end") }
        return switch byte {
        case UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "\""), UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"),
             UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            error(.shape, "expected \(expected)")
        default:
            error(.syntax, "unexpected character")
        }
    }

    private mutating func matchLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count,
              literal.withUTF8Buffer({ Self.equal(UnsafeBufferPointer(rebasing: bytes[index..<index + count]), $0) })
        else { return false }
        index += count
        return true
    }

    private static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a[i] != b[i] { return false }
        return true
    }

    /// Whether `word` holds a byte below 0x20, a `"` or a `\\` (bit tricks from "Bit Twiddling
    /// Hacks": a zero byte, a byte below n).
    private static func hasSpecialByte(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func hasZeroByte(_ v: UInt64) -> Bool { (v &- ones) & ~v & highs != 0 }
        let control = (word &- ones &* 0x20) & ~word & highs != 0
        return control || hasZeroByte(word ^ (ones &* UInt64(UInt8(ascii: "\""))))
            || hasZeroByte(word ^ (ones &* UInt64(UInt8(ascii: "\\"))))
    }

    /// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let count = bytes.count
        func continuation(_ j: Int, _ range: ClosedRange<UInt8> = 0x80...0xBF) -> Bool { j < count && range.contains(bytes[j]) }
        while i < count {
            switch bytes[i] {
            case 0x00...0x7F: i += 1
            case 0xC2...0xDF:
                guard continuation(i + 1) else { return false }
                i += 2
            case 0xE0:
                guard continuation(i + 1, 0xA0...0xBF), continuation(i + 2) else { return false }
                i += 3
            case 0xE1...0xEC, 0xEE...0xEF:
                guard continuation(i + 1), continuation(i + 2) else { return false }
                i += 3
            case 0xED:
                guard continuation(i + 1, 0x80...0x9F), continuation(i + 2) else { return false }
                i += 3
            case 0xF0:
                guard continuation(i + 1, 0x90...0xBF), continuation(i + 2), continuation(i + 3) else { return false }
                i += 4
            case 0xF1...0xF3:
                guard continuation(i + 1), continuation(i + 2), continuation(i + 3) else { return false }
                i += 4
            case 0xF4:
                guard continuation(i + 1, 0x80...0x8F), continuation(i + 2), continuation(i + 3) else { return false }
                i += 4
            default:
                return false
            }
        }
        return true
    }
}
