/// A JSON value, as the tests' own reader understands it.
indirect enum JSONTree: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number as written.
    case number(String)
    case string(String)
    case array([JSONTree])
    case object([Member])
    /// Bytes written as they are: what a broken producer writes (the reader never makes it).
    case raw([UInt8])

    struct Member: Equatable, Sendable {
        var key: String
        var value: JSONTree
    }
}

/// The tests' oracle for "is this JSON": a reader written from the grammar of RFC 8259 alone,
/// sharing no code with ParleyProtocol's. Strict where RFC 8259 lets a parser choose: the text
/// is UTF-8 without a byte-order mark, strings are valid Unicode (no lone surrogates, as
/// I-JSON, RFC 7493, requires) and nesting is at most `maxDepth` levels. It also notes what
/// Parley's reader refuses on purpose in valid JSON: duplicate keys, and numbers with a
/// fraction or exponent (which Parley's integer fields do not take).
struct StrictJSON {
    struct Invalid: Error {}

    struct Facts {
        var duplicateKeys = false
        var nonIntegerNumbers = false
    }

    static let maxDepth = 64

    /// The value of `bytes`, or nil when they are not JSON.
    static func parse(_ bytes: [UInt8]) -> (tree: JSONTree, facts: Facts)? {
        var parser = StrictJSON(bytes: bytes)
        guard let tree = try? parser.document() else { return nil }
        return (tree, parser.facts)
    }

    private let bytes: [UInt8]
    private var position = 0
    private var depth = 0
    private var facts = Facts()

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func document() throws -> JSONTree {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw Invalid() }
        let value = try element()
        guard position == bytes.count else { throw Invalid() }
        return value
    }

    private mutating func element() throws -> JSONTree {
        whitespace()
        let value = try self.value()
        whitespace()
        return value
    }

    private mutating func value() throws -> JSONTree {
        guard position < bytes.count else { throw Invalid() }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return .number(try number())
        }
    }

    private mutating func object() throws -> JSONTree {
        try nest()
        defer { depth -= 1 }
        position += 1
        var members: [JSONTree.Member] = []
        whitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            whitespace()
            guard peek() == UInt8(ascii: "\"") else { throw Invalid() }
            let key = try string()
            whitespace()
            guard peek() == UInt8(ascii: ":") else { throw Invalid() }
            position += 1
            let value = try element()
            if members.contains(where: { $0.key == key }) { facts.duplicateKeys = true }
            members.append(JSONTree.Member(key: key, value: value))
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"):
                position += 1
                return .object(members)
            default: throw Invalid()
            }
        }
    }

    private mutating func array() throws -> JSONTree {
        try nest()
        defer { depth -= 1 }
        position += 1
        var items: [JSONTree] = []
        whitespace()
        if peek() == UInt8(ascii: "]") {
            position += 1
            return .array(items)
        }
        while true {
            items.append(try element())
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"):
                position += 1
                return .array(items)
            default: throw Invalid()
            }
        }
    }

    private mutating func nest() throws {
        depth += 1
        guard depth <= Self.maxDepth else { throw Invalid() }
    }

    private mutating func string() throws -> String {
        position += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() throws {
            guard let text = String(validating: raw, as: UTF8.self) else { throw Invalid() }
            scalars.append(contentsOf: text.unicodeScalars)
            raw.removeAll()
        }
        while true {
            guard position < bytes.count else { throw Invalid() }
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                try flush()
                return String(scalars)
            case UInt8(ascii: "\\"):
                try flush()
                scalars.append(try escape())
            case 0x00...0x1F:
                throw Invalid()
            default:
                raw.append(byte)
            }
        }
    }

    private mutating func escape() throws -> Unicode.Scalar {
        guard position < bytes.count else { throw Invalid() }
        let byte = bytes[position]
        position += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let first = try hex4()
            switch first {
            case 0xD800...0xDBFF:
                guard position + 2 <= bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
                else { throw Invalid() }
                position += 2
                let second = try hex4()
                guard (0xDC00...0xDFFF).contains(second) else { throw Invalid() }
                return Unicode.Scalar(0x10000 + (first - 0xD800) * 0x400 + (second - 0xDC00))!
            case 0xDC00...0xDFFF:
                throw Invalid()
            default:
                return Unicode.Scalar(first)!
            }
        default:
            throw Invalid()
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard position + 4 <= bytes.count,
              let value = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16),
              bytes[position..<position + 4].allSatisfy({ $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "-") })
        else { throw Invalid() }
        position += 4
        return value
    }

    private mutating func number() throws -> String {
        let start = position
        if peek() == UInt8(ascii: "-") { position += 1 }
        if peek() == UInt8(ascii: "0") {
            position += 1
        } else {
            guard let first = peek(), (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(first) else { throw Invalid() }
            digits()
        }
        if peek() == UInt8(ascii: ".") {
            position += 1
            guard digits() > 0 else { throw Invalid() }
            facts.nonIntegerNumbers = true
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            position += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
            guard digits() > 0 else { throw Invalid() }
            facts.nonIntegerNumbers = true
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    @discardableResult
    private mutating func digits() -> Int {
        let start = position
        while let byte = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { position += 1 }
        return position - start
    }

    private mutating func literal(_ word: String) throws {
        let word = Array(word.utf8)
        guard position + word.count <= bytes.count, Array(bytes[position..<position + word.count]) == word else { throw Invalid() }
        position += word.count
    }

    private mutating func whitespace() {
        while let byte = peek(), [0x20, 0x09, 0x0A, 0x0D].contains(byte) { position += 1 }
    }

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }
}
