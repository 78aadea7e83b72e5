/// Writes a JSON tree back to text the way some other producer might: members shuffled,
/// unknown members added, characters escaped as `\uXXXX`, whitespace between tokens, and, now
/// and then, edits that change what the text means (a member dropped, duplicated, nulled or
/// given a value of another type, an integer written as `1.0` or `1e0`) or make it not quite
/// JSON in ways lenient readers accept (a trailing comma, a broken number or invalid UTF-8 in
/// an unknown member, a byte-order mark). Every choice comes from `seed`, so a failing case is
/// reproducible.
struct Restyler {
    private var random: SplitMix

    init(seed: UInt64) { random = SplitMix(seed: seed) }

    mutating func write(_ tree: JSONTree) -> [UInt8] {
        var out: [UInt8] = chance(0.02) ? [0xEF, 0xBB, 0xBF] : []
        space(&out)
        value(tree, &out, depth: 1)
        space(&out)
        return out
    }

    private mutating func value(_ tree: JSONTree, _ out: inout [UInt8], depth: Int) {
        switch tree {
        case .null: out += Array("null".utf8)
        case .bool(let value): out += Array((value ? "true" : "false").utf8)
        case .number(let text): out += Array(number(text).utf8)
        case .string(let text): string(text, &out)
        case .raw(let bytes): out += bytes
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                space(&out)
                value(item, &out, depth: depth + 1)
                space(&out)
            }
            if !items.isEmpty, chance(0.04) { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in edited(members, depth: depth).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                space(&out)
                string(member.key, &out)
                space(&out)
                out.append(UInt8(ascii: ":"))
                space(&out)
                value(member.value, &out, depth: depth + 1)
                space(&out)
            }
            if !members.isEmpty, chance(0.04) { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "}"))
        }
    }

    private mutating func edited(_ members: [JSONTree.Member], depth: Int) -> [JSONTree.Member] {
        var members = members
        if chance(0.3) { members.shuffle(using: &random) }
        if chance(0.3) {
            for _ in 0..<random.next(upTo: 3) {
                let unknown = JSONTree.Member(key: "x" + key(), value: randomValue(depth: depth + 1))
                members.insert(unknown, at: random.next(upTo: members.count + 1))
            }
        }
        guard !members.isEmpty else { return members }
        let index = random.next(upTo: members.count)
        if chance(0.04) { members.remove(at: index) }
        else if chance(0.04) { members.insert(members[index], at: random.next(upTo: members.count + 1)) }
        else if chance(0.04) { members[index].value = .null }
        else if chance(0.04) { members[index].value = randomValue(depth: depth + 1) }
        return members
    }

    /// An integer sometimes as `-0`, or with a fraction or exponent; anything else as written.
    private mutating func number(_ text: String) -> String {
        guard !text.contains(where: { ".eE".contains($0) }) else { return text }
        if text == "0", chance(0.2) { return "-0" }
        if chance(0.03) { return text + ".0" }
        if chance(0.03) { return text + "e0" }
        return text
    }

    private mutating func string(_ text: String, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += Array("\\\"".utf8)
            case "\\": out += Array("\\\\".utf8)
            case "\u{0}"..."\u{1F}": escape(scalar, &out)
            case "/" where chance(0.5): out += Array("\\/".utf8)
            default:
                if chance(0.1) { escape(scalar, &out) } else { out += Array(String(scalar).utf8) }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private func escape(_ scalar: Unicode.Scalar, _ out: inout [UInt8]) {
        for unit in String(scalar).utf16 {
            let hex = String(unit, radix: 16, uppercase: unit % 2 == 0)
            out += Array(("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
        }
    }

    private mutating func space(_ out: inout [UInt8]) {
        guard chance(0.1) else { return }
        for _ in 0...random.next(upTo: 2) { out.append([0x20, 0x09, 0x0A, 0x0D][random.next(upTo: 4)]) }
    }

    private mutating func key() -> String {
        String((0..<random.next(upTo: 4)).map { _ in Self.keyCharacters[random.next(upTo: Self.keyCharacters.count)] })
    }

    /// Any JSON value, a few levels deep.
    mutating func randomValue(depth: Int) -> JSONTree {
        if chance(0.1) { return .raw(Self.broken[random.next(upTo: Self.broken.count)]) }
        let kinds = depth > 6 ? 5 : 7
        switch random.next(upTo: kinds) {
        case 0: return .null
        case 1: return .bool(chance(0.5))
        case 2: return .number(Self.numbers[random.next(upTo: Self.numbers.count)])
        case 3: return .string(key())
        case 4: return .string(String(random.next()))
        case 5: return .array((0..<random.next(upTo: 3)).map { _ in randomValue(depth: depth + 1) })
        default:
            return .object((0..<random.next(upTo: 3)).map { _ in JSONTree.Member(key: key(), value: randomValue(depth: depth + 1)) })
        }
    }

    private mutating func chance(_ probability: Double) -> Bool { Double(random.next() % 1_000_000) < probability * 1_000_000 }

    private static let keyCharacters: [Character] = ["a", "m", "s", "g", "v", "_", "é", "\"", "\\", "/", "\u{1}", "👋"]
    private static let numbers = ["0", "-0", "7", "-12", "1.5", "-0.25e-3", "1E+2", "18446744073709551615", "1e400", "123456789012345678901234567890"]
    /// Not JSON: numbers against the grammar, invalid UTF-8, a lone surrogate, a raw control character.
    private static let broken: [[UInt8]] = ["-", "1.", "01", "1e", "+1", ".5", "0x1", "\"\\ud800\"", "\"\u{1}\""].map { Array($0.utf8) }
        + [[0x22, 0xFF, 0x22], [0x22, 0xC0, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22]]
}

/// Small, fast, seeded (SplitMix64).
struct SplitMix: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(upTo bound: Int) -> Int { bound <= 1 ? 0 : Int(next() % UInt64(bound)) }
}

/// A byte-level change to a document: what a broken or hostile producer sends.
struct Mutation: Sendable, CustomStringConvertible {
    enum Kind: Int, CaseIterable, Sendable { case flip, insert, delete, duplicate, truncate }

    var kind: Kind
    /// Where, as a fraction of the document (so the mutation applies to any length).
    var at: Double
    var byte: UInt8

    func apply(to bytes: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        let index = min(bytes.count - 1, Int(at * Double(bytes.count)))
        switch kind {
        case .flip: bytes[index] = byte
        case .insert: bytes.insert(byte, at: index)
        case .delete: bytes.remove(at: index)
        case .duplicate: bytes.insert(contentsOf: bytes[index..<min(bytes.count, index + Int(byte % 16) + 1)], at: index)
        case .truncate: bytes.removeSubrange(index...)
        }
    }

    var description: String { "\(kind) at \(Int(at * 1000))‰ with 0x\(String(byte, radix: 16))" }
}
