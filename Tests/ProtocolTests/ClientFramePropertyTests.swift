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
        await propertyCheck(count: 1500, input: FrameGen.document, perform: { document in
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
        #expect(reached == ["send", "ack", "ping", "watch", "bad_request", "unknown_type", "invalid_recipient", "too_large"])
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
            case .frame(.ping): "ping"
            case .frame(.watch): "watch"
            case .frame(.read): "read"
            case .frame(.sync): "sync"
            case .frame(.history): "history"
            case .frame(.conversations): "conversations"
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
        let keys: [String: [String]] = ["send": ["id", "to", "body"], "ack": ["msgs"], "ping": [], "watch": ["users"]]
        guard let fields = keys[type] else { return .refused(.unknownType, clientID: anyStringID) }
        let read = members.map(\.key).filter { $0 == "type" || fields.contains($0) }
        guard Set(read).count == read.count else { return .refusedAnyID(.badRequest) }

        switch type {
        case "send":
            let id = string(first("id"))
            guard let id, let to = string(first("to")), let body = string(first("body")) else { return .refused(.badRequest, clientID: id) }
            guard (1...limits.maxClientIDBytes).contains(id.utf8.count) else { return .refused(.badRequest, clientID: nil) }
            guard isIdentifier(to) else { return .refused(.invalidRecipient, clientID: id) }
            guard !body.isEmpty else { return .refused(.badRequest, clientID: id) }
            guard body.utf8.count <= limits.maxBodyBytes else { return .refused(.tooLarge, clientID: id) }
            return .frame(.send(.init(id: id, to: to, body: body)))
        case "ack":
            guard let msgs = strings(first("msgs")), (1...limits.maxAckMessages).contains(msgs.count),
                  msgs.allSatisfy(MessageID.isValid) else { return .refused(.badRequest, clientID: nil) }
            return .frame(.ack(.init(msgs: msgs)))
        case "watch":
            guard let users = strings(first("users")) else { return .refused(.badRequest, clientID: nil) }
            guard users.count <= limits.maxWatchUsers else { return .refused(.tooLarge, clientID: nil) }
            guard users.allSatisfy(isIdentifier) else { return .refused(.invalidRecipient, clientID: nil) }
            return .frame(.watch(.init(users: users)))
        default:
            return .frame(.ping)
        }
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
    static let types: [JSONTree?] = [.string("send"), .string("send"), .string("send"), .string("ack"), .string("ping"), .string("watch"),
                                     .string("teleport"), .number("7"), nil]
    static let ids = ["c1", "c-2", "é", "a\"b", String(repeating: "x", count: 64), "", String(repeating: "x", count: 65)]
    static let recipients = ["bob", "A.b-c_9", "carol", String(repeating: "a", count: 64), "b b", "{x}", String(repeating: "a", count: 65), "",
                             "ünï", "bob\n"]
    static let bodies = ["hi", "é👋\n\"", "x", String(repeating: "a", count: 4096), "", String(repeating: "a", count: 4097),
                         String(repeating: "é", count: 2049)]
    static let messageIDs: [[String]] = {
        let (first, second) = (MessageID.make(), MessageID.make())
        return [[first], [first, second], [], ["not-an-id"], Array(repeating: first, count: 256), Array(repeating: first, count: 257)]
    }()
    static let userLists: [[String]] = [["bob"], ["bob", "carol"], [], ["ok", "not ok"], Array(repeating: "u", count: 500), Array(repeating: "u", count: 501)]

    static let frame = zip(
        Gen.int(in: 0...types.count - 1),
        zip(Gen.int(in: 0...ids.count - 1), Gen.int(in: 0...recipients.count - 1), Gen.int(in: 0...bodies.count - 1),
            Gen.int(in: 0...messageIDs.count - 1), Gen.int(in: 0...userLists.count - 1)),
        Gen.int(in: 0...6).array(of: 5)
    ).map { f in Frame(type: f.0, values: [f.1.0, f.1.1, f.1.2, f.1.3, f.1.4], forms: f.2) }

    static let document = WireGen.document(frame)

    static func tree(_ frame: Frame) -> JSONTree {
        let values: [(String, JSONTree)] = [
            ("id", .string(ids[frame.values[0]])), ("to", .string(recipients[frame.values[1]])), ("body", .string(bodies[frame.values[2]])),
            ("msgs", .array(messageIDs[frame.values[3]].map(JSONTree.string))), ("users", .array(userLists[frame.values[4]].map(JSONTree.string))),
        ]
        var members: [JSONTree.Member] = types[frame.type].map { [JSONTree.Member(key: "type", value: $0)] } ?? []
        for (index, (key, value)) in values.enumerated() {
            switch frame.forms[index] {
            case 5: continue
            case 6: members.append(JSONTree.Member(key: key, value: .number("5")))
            default: members.append(JSONTree.Member(key: key, value: value))
            }
        }
        return .object(members)
    }
}
