import ParleyProtocol
import PropertyBased
import Testing

/// Client frames are the bytes any browser can send. Over generated frames (every frame type,
/// each field valid, invalid, of the wrong type or absent), restyled and mutated as in the
/// differential tests, `ClientFrame.decode` answers what this model of the protocol
/// (docs/protocol.md) says, computed from the tests' own JSON reader.
@Suite("Client frames against a model of the protocol")
struct ClientFramePropertyTests {
    let limits = ProtocolLimits()

    @Test func decodeAnswersWhatTheModelSays() async {
        var reached: Set<String> = []
        // Enough inputs that every frame type and error is reached whatever the seed (4,000
        // missed one rarely once block/unblock joined the frame types).
        await propertyCheck(count: 8000, input: FrameGen.document, perform: { document in
            let tree = FrameGen.tree(document.value)
            var restyler = Restyler(seed: document.style)
            var bytes = restyler.write(tree)
            for mutation in document.mutations { mutation.apply(to: &bytes) }
            let text = String(decoding: bytes, as: UTF8.self).debugDescription

            let expected = expectedOutcome(bytes)
            reached.insert(expected.kind)
            switch Result(catching: { () throws(ProtocolError) in try ClientFrame.decode(bytes, limits: limits) }) {
            case .success(let frame):
                #expect(expected == .frame(frame), "\(text)")
            case .failure(let error):
                switch expected {
                case .frame: Issue.record("refused (\(error)) a valid frame: \(text)")
                case .refused(let code, let clientID): #expect(error.code == code && error.clientID == clientID, "\(error) for \(text)")
                case .refusedAnyID(let code): #expect(error.code == code, "\(error) for \(text)")
                }
            }
        })
        // Every frame type and every error the model knows was reached.
        #expect(reached == ["send", "ack", "read", "sync", "history", "conversations", "ping", "watch",
                            "group_create", "group_add/remove", "group_leave", "members", "typing", "block/unblock",
                            "bad_request", "unknown_type", "invalid_recipient", "too_large"])
    }

    enum Expected: Equatable {
        case frame(ClientFrame)
        case refused(ErrorCode, clientID: String?)
        /// Duplicate keys: which client id the error carries is not specified.
        case refusedAnyID(ErrorCode)

        var kind: String {
            switch self {
            case .frame(.send): "send"
            case .frame(.ack): "ack"
            case .frame(.read): "read"
            case .frame(.sync): "sync"
            case .frame(.history): "history"
            case .frame(.conversations): "conversations"
            case .frame(.ping): "ping"
            case .frame(.watch): "watch"
            case .frame(.groupCreate): "group_create"
            // One body type and one path in the model: reaching either proves the path.
            case .frame(.groupAdd), .frame(.groupRemove): "group_add/remove"
            case .frame(.groupLeave): "group_leave"
            case .frame(.members): "members"
            case .frame(.typing): "typing"
            case .frame(.block), .frame(.unblock): "block/unblock"
            case .refused(let code, _), .refusedAnyID(let code): code.rawValue
            }
        }
    }

    /// The protocol, written down a second time from docs/protocol.md.
    func expectedOutcome(_ bytes: [UInt8]) -> Expected {
        guard bytes.count <= limits.maxFrameBytes else { return .refused(.tooLarge, clientID: nil) }
        guard let parsed = StrictJSON.parse(bytes), case .object(let members) = parsed.tree else { return .refused(.badRequest, clientID: nil) }
        func first(_ key: String) -> JSONTree? { members.first { $0.key == key }?.value }
        func string(_ value: JSONTree?) -> String? { if case .string(let text) = value { text } else { nil } }
        func strings(_ value: JSONTree?) -> [String]? {
            guard case .array(let items) = value else { return nil }
            let texts = items.compactMap(string)
            return texts.count == items.count ? texts : nil
        }
        let anyStringID = members.first { $0.key == "id" && string($0.value) != nil }.flatMap { string($0.value) }
        guard let type = members.first(where: { $0.key == "type" && string($0.value) != nil }).flatMap({ string($0.value) }) else {
            return .refused(.badRequest, clientID: anyStringID)
        }
        let keys: [String: [String]] = [
            "send": ["id", "to", "conv", "body"], "ack": ["seq", "msgs"], "read": ["conv", "cseq"], "sync": ["after", "epoch"],
            "history": ["conv", "before", "limit"], "conversations": ["limit", "next"], "ping": [], "watch": ["users"],
            "group_create": ["id", "title", "members"], "group_add": ["id", "conv", "members"], "group_remove": ["id", "conv", "members"],
            "group_leave": ["id", "conv"], "members": ["conv", "next"], "typing": ["conv"],
            "block": ["id", "user"], "unblock": ["id", "user"],
        ]
        guard let fields = keys[type] else { return .refused(.unknownType, clientID: anyStringID) }
        let read = members.map(\.key).filter { $0 == "type" || fields.contains($0) }
        guard Set(read).count == read.count else { return .refusedAnyID(.badRequest) }

        /// A field's value: absent and `null` are nil; `.mistyped` when it is there but of another type.
        enum Field<V> { case absent, value(V), mistyped }
        func field<V>(_ key: String, _ convert: (JSONTree) -> V?) -> Field<V> {
            guard let value = first(key), value != .null else { return .absent }
            return convert(value).map(Field.value) ?? .mistyped
        }
        func present<V>(_ field: Field<V>) -> V? { if case .value(let v) = field { v } else { nil } }
        func mistyped<V>(_ field: Field<V>) -> Bool { if case .mistyped = field { true } else { false } }
        let bad = Expected.refused(.badRequest, clientID: nil)

        switch type {
        case "send":
            let id = string(first("id"))
            let to = field("to", string), conv = field("conv", string)
            guard let id, let body = string(first("body")), !mistyped(to), !mistyped(conv) else { return .refused(.badRequest, clientID: id) }
            guard (1...limits.maxClientIDBytes).contains(id.utf8.count) else { return bad }
            if let to = present(to), !isIdentifier(to) { return .refused(.invalidRecipient, clientID: id) }
            if let conv = present(conv), !isConversation(conv) { return .refused(.badRequest, clientID: id) }
            guard (present(to) == nil) != (present(conv) == nil) else { return .refused(.badRequest, clientID: id) }
            guard !body.isEmpty else { return .refused(.badRequest, clientID: id) }
            guard body.utf8.count <= limits.maxBodyBytes else { return .refused(.tooLarge, clientID: id) }
            guard !hasControlCharacters(body, allowing: "\n\t") else { return .refused(.badRequest, clientID: id) }
            return .frame(.send(.init(id: id, to: present(to), conv: present(conv), body: body)))
        case "ack":
            let seq = field("seq", unsigned), msgs = field("msgs", strings)
            guard !mistyped(seq), !mistyped(msgs) else { return bad }
            if let seq = present(seq), seq > ProtocolLimits.maxSequence { return bad }
            if let msgs = present(msgs), !(1...limits.maxAckMessages).contains(msgs.count) || !msgs.allSatisfy(MessageID.isValid) { return bad }
            guard (present(seq) == nil) != (present(msgs) == nil) else { return bad }
            return .frame(.ack(.init(seq: present(seq), msgs: present(msgs))))
        case "read":
            guard let conv = string(first("conv")), let cseq = first("cseq").flatMap(unsigned) else { return bad }
            guard isConversation(conv), cseq <= ProtocolLimits.maxSequence else { return bad }
            return .frame(.read(.init(conv: conv, cseq: cseq)))
        case "sync":
            let epoch = field("epoch", string)
            guard let after = first("after").flatMap(unsigned), !mistyped(epoch) else { return bad }
            guard after <= ProtocolLimits.maxSequence, present(epoch).map(isIdentifier) ?? true else { return bad }
            return .frame(.sync(.init(after: after, epoch: present(epoch))))
        case "history":
            let before = field("before", unsigned), limit = field("limit", integer)
            guard let conv = string(first("conv")), !mistyped(before), !mistyped(limit) else { return bad }
            guard isConversation(conv), present(before).map({ $0 <= ProtocolLimits.maxSequence }) ?? true,
                  (1...ProtocolLimits.maxPage).contains(present(limit) ?? 50) else { return bad }
            return .frame(.history(.init(conv: conv, before: present(before), limit: present(limit) ?? 50)))
        case "conversations":
            let limit = field("limit", integer), next = field("next", string)
            guard !mistyped(limit), !mistyped(next) else { return bad }
            guard (1...ProtocolLimits.maxPage).contains(present(limit) ?? 50), (present(next)?.utf8.count ?? 0) <= 256 else { return bad }
            return .frame(.conversations(.init(limit: present(limit) ?? 50, next: present(next))))
        case "watch":
            guard let users = strings(first("users")) else { return bad }
            guard users.count <= limits.maxWatchUsers else { return .refused(.tooLarge, clientID: nil) }
            guard users.allSatisfy(isIdentifier) else { return .refused(.invalidRecipient, clientID: nil) }
            return .frame(.watch(.init(users: users)))
        case "group_create":
            let id = string(first("id")), members = field("members", strings)
            guard let id, let title = string(first("title")), !mistyped(members) else { return .refused(.badRequest, clientID: id) }
            guard (1...limits.maxClientIDBytes).contains(id.utf8.count) else { return bad }
            if let problem = titleProblem(title) { return .refused(problem, clientID: id) }
            if let problem = membersProblem(present(members) ?? [], least: 0) { return .refused(problem, clientID: id) }
            return .frame(.groupCreate(.init(id: id, title: title, members: present(members) ?? [])))
        case "group_add", "group_remove":
            let id = field("id", string)
            let clientID = present(id)
            guard !mistyped(id), let conv = string(first("conv")), let members = strings(first("members")) else {
                return .refused(.badRequest, clientID: clientID)
            }
            if let id = clientID, !(1...limits.maxClientIDBytes).contains(id.utf8.count) { return bad }
            guard isGroup(conv) else { return .refused(.badRequest, clientID: clientID) }
            if let problem = membersProblem(members, least: 1) { return .refused(problem, clientID: clientID) }
            let change = ClientFrame.GroupChange(conv: conv, members: members, id: clientID)
            return .frame(type == "group_add" ? .groupAdd(change) : .groupRemove(change))
        case "group_leave":
            let id = field("id", string)
            let clientID = present(id)
            guard !mistyped(id), let conv = string(first("conv")) else { return .refused(.badRequest, clientID: clientID) }
            if let id = clientID, !(1...limits.maxClientIDBytes).contains(id.utf8.count) { return bad }
            guard isGroup(conv) else { return .refused(.badRequest, clientID: clientID) }
            return .frame(.groupLeave(.init(conv: conv, id: clientID)))
        case "members":
            let next = field("next", string)
            guard let conv = string(first("conv")), !mistyped(next) else { return bad }
            guard isGroup(conv), (present(next)?.utf8.count ?? 0) <= 256 else { return bad }
            return .frame(.members(.init(conv: conv, next: present(next))))
        case "typing":
            guard let conv = string(first("conv")), isConversation(conv) else { return bad }
            return .frame(.typing(.init(conv: conv)))
        case "block", "unblock":
            let id = field("id", string)
            let clientID = present(id)
            guard !mistyped(id), let user = string(first("user")) else { return .refused(.badRequest, clientID: clientID) }
            if let id = clientID, !(1...limits.maxClientIDBytes).contains(id.utf8.count) { return bad }
            guard isIdentifier(user) else { return .refused(.invalidRecipient, clientID: clientID) }
            let block = ClientFrame.Block(user: user, id: clientID)
            return .frame(type == "block" ? .block(block) : .unblock(block))
        default:
            return .frame(.ping)
        }
    }

    /// A group title: 1 to `maxTitleBytes` bytes.
    func titleProblem(_ title: String) -> ErrorCode? {
        if title.isEmpty { return .badRequest }
        if title.utf8.count > limits.maxTitleBytes { return .tooLarge }
        return hasControlCharacters(title, allowing: "\n\t") ? .badRequest : nil
    }

    /// Unicode Cc (U+0000–U+001F, U+007F–U+009F) other than `allowed`.
    func hasControlCharacters(_ text: String, allowing allowed: String) -> Bool {
        text.unicodeScalars.contains { ($0.value < 0x20 || (0x7F...0x9F).contains($0.value)) && !allowed.unicodeScalars.contains($0) }
    }

    /// The users of a group change: at most `maxGroupMembers` (too_large), at least `least`, identifiers.
    func membersProblem(_ users: [String], least: Int) -> ErrorCode? {
        if users.count > limits.maxGroupMembers { return .tooLarge }
        if users.count < least { return .badRequest }
        return users.allSatisfy(isIdentifier) ? nil : .invalidRecipient
    }

    func isGroup(_ conv: String) -> Bool { conv.hasPrefix("g:") && isConversation(conv) }

    /// An integer token (no fraction or exponent) that fits `UInt64`; `-0` is 0.
    func unsigned(_ value: JSONTree) -> UInt64? {
        guard case .number(let text) = value, !text.contains(where: { ".eE".contains($0) }) else { return nil }
        if text == "-0" { return 0 }
        return UInt64(text)
    }

    /// An integer token that fits `Int`.
    func integer(_ value: JSONTree) -> Int? {
        guard case .number(let text) = value, !text.contains(where: { ".eE".contains($0) }) else { return nil }
        return text == "-0" ? 0 : Int(text)
    }

    /// `dm:<a>:<b>` with two identifiers in byte order (or equal), or `g:<identifier>`.
    func isConversation(_ text: String) -> Bool {
        if text.hasPrefix("g:") { return isIdentifier(String(text.dropFirst(2))) }
        guard text.hasPrefix("dm:") else { return false }
        let parts = text.dropFirst(3).split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, isIdentifier(parts[0]), isIdentifier(parts[1]) else { return false }
        return parts[0] == parts[1] || Array(parts[0].utf8).lexicographicallyPrecedes(Array(parts[1].utf8))
    }

    func isIdentifier(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count) && text.unicodeScalars.allSatisfy { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-".unicodeScalars.contains($0) }
    }
}

/// Generated client frames: a type and the fields any frame may have, each from a list of
/// valid and invalid values, absent, or of the wrong type.
enum FrameGen {
    struct Frame: CustomStringConvertible {
        var type: Int
        var values: [Int]
        /// Per field: absent (5), a number instead (6), else the value.
        var forms: [Int]

        var description: String { "type \(type) values \(values) forms \(forms)" }
    }

    // Valid values first; `send` weighs more, its frames need more to go right.
    static let types: [JSONTree?] = [.string("send"), .string("send"), .string("send"), .string("ack"), .string("ack"), .string("read"),
                                     .string("sync"), .string("history"), .string("history"), .string("conversations"), .string("ping"), .string("watch"),
                                     .string("group_create"), .string("group_create"), .string("group_add"), .string("group_add"),
                                     .string("group_remove"), .string("group_leave"), .string("group_leave"), .string("members"), .string("typing"),
                                     .string("block"), .string("unblock"),
                                     .string("teleport"), .number("7"), nil]
    static let ids = ["c1", "c-2", "é", "a\"b", String(repeating: "x", count: 64), "", String(repeating: "x", count: 65)]
    static let recipients = ["bob", "A.b-c_9", "carol", String(repeating: "a", count: 64), "b b", "{x}", String(repeating: "a", count: 65), "",
                             "ünï", "bob\n"]
    static let bodies = ["hi", "é👋\n\"", "x", String(repeating: "a", count: 4096), "", String(repeating: "a", count: 4097),
                         String(repeating: "é", count: 2049), "tab\tok", "nul\u{0}", "\u{1B}[2J", "del\u{7F}", "c1\u{85}", "cr\r\n"]
    static let messageIDs: [[String]] = {
        let (first, second) = (MessageID.make(), MessageID.make())
        return [[first], [first, second], [], ["not-an-id"], Array(repeating: first, count: 256), Array(repeating: first, count: 257)]
    }()
    static let convs = ["dm:alice:bob", "g:team", "g:7e4c9a2e-1b2c-4d5e-8f90-123456789abc", "g:x", "dm:bob:bob", "dm:a:b", "dm:bob:alice", "dm:alice", "x:y", "", "g:", "g:a b"]
    static let sequences = ["0", "1", "42", "9007199254740991", "9007199254740992", "-1", "18446744073709551616"]
    static let pageLimits = ["1", "50", "100", "0", "101", "-5"]
    static let epochs = ["e1", "abc-DEF_1.2", "", "bad epoch", String(repeating: "e", count: 65)]
    static let nexts = ["abc", "", "12:dm:a:b", String(repeating: "n", count: 257)]
    static let userLists: [[String]] = [["bob"], ["bob", "carol"], [], ["ok", "not ok"], Array(repeating: "u", count: 500), Array(repeating: "u", count: 501)]
    static let titles = ["Team", "é👋", "", String(repeating: "t", count: 128), String(repeating: "t", count: 129), String(repeating: "é", count: 65),
                         "bell\u{7}"]
    static let memberLists: [[String]] = [["bob"], ["bob", "carol"], ["dave"], ["erin", "bob"], [], ["ok", "not ok"], Array(repeating: "u", count: 1000),
                                          Array(repeating: "u", count: 1001)]

    /// Each field's name, its number of values, and its value (numbers for the numeric ones).
    static let fields: [(key: String, count: Int, numeric: Bool, value: @Sendable (Int) -> JSONTree)] = [
        ("id", ids.count, false, { .string(ids[$0]) }),
        ("to", recipients.count, false, { .string(recipients[$0]) }),
        ("user", recipients.count, false, { .string(recipients[$0]) }),
        ("body", bodies.count, false, { .string(bodies[$0]) }),
        ("msgs", messageIDs.count, false, { .array(messageIDs[$0].map(JSONTree.string)) }),
        ("users", userLists.count, false, { .array(userLists[$0].map(JSONTree.string)) }),
        ("conv", convs.count, false, { .string(convs[$0]) }),
        ("seq", sequences.count, true, { .number(sequences[$0]) }),
        ("cseq", sequences.count, true, { .number(sequences[$0]) }),
        ("after", sequences.count, true, { .number(sequences[$0]) }),
        ("before", sequences.count, true, { .number(sequences[$0]) }),
        ("epoch", epochs.count, false, { .string(epochs[$0]) }),
        ("limit", pageLimits.count, true, { .number(pageLimits[$0]) }),
        ("next", nexts.count, false, { .string(nexts[$0]) }),
        ("title", titles.count, false, { .string(titles[$0]) }),
        ("members", memberLists.count, false, { .array(memberLists[$0].map(JSONTree.string)) }),
    ]

    static let frame = zip(
        Gen.int(in: 0...types.count - 1),
        Gen.int(in: 0...1000).array(of: fields.count),
        Gen.int(in: 0...6).array(of: fields.count)
    ).map { f in Frame(type: f.0, values: zip(f.1, fields).map { $0 % $1.count }, forms: f.2) }

    static let document = WireGen.document(frame)

    /// Per field: absent (form 5), of the wrong type (form 6: a number for a string, a string
    /// for a number), else its value. A send names `to` or `conv` or (a third of them) both.
    static func tree(_ frame: Frame) -> JSONTree {
        var members: [JSONTree.Member] = types[frame.type].map { [JSONTree.Member(key: "type", value: $0)] } ?? []
        let dropped = ["conv", "to", ""][frame.values[2] % 3]
        for (index, field) in fields.enumerated() where field.key != dropped {
            switch frame.forms[index] {
            case 5: continue
            case 6: members.append(JSONTree.Member(key: field.key, value: field.numeric ? .string("5") : .number("5")))
            default: members.append(JSONTree.Member(key: field.key, value: field.value(frame.values[index])))
            }
        }
        return .object(members)
    }
}
