import ParleyKafka
import ParleyProtocol
import ParleyRedis

/// Where a user's sessions are: session id → edge id, from `presence:{user}`.
public struct UserSessions: Sendable, Equatable {
    public let user: String
    public let sessions: [String: String]

    public init(user: String, sessions: [String: String]) {
        self.user = user
        self.sessions = sessions
    }

    /// Reads an HGETALL reply.
    public init(user: String, reply: RESPValue) {
        var sessions: [String: String] = [:]
        if let items = reply.array {
            var index = 0
            while index + 1 < items.count {
                if let session = items[index].string, let edge = items[index + 1].string { sessions[session] = edge }
                index += 2
            }
        }
        self.init(user: user, sessions: sessions)
    }

    /// The HGETALL command for `user`'s sessions.
    public static func command(_ user: String) -> RedisCommand { ["HGETALL", .init(RedisKeys.presence(user))] }

    /// Edge ids holding at least one session, excluding `except`; sorted for stable output.
    public func edges(excludingSession except: String? = nil) -> [String] {
        Set(sessions.filter { $0.key != except }.map(\.value)).sorted()
    }
}

/// Collects deliver envelopes per (edge, user) in order and turns them into Kafka records, so a
/// batch produces one record per edge (``EnvelopeBatch``) instead of one per frame.
public struct DeliveryBatch: Sendable {
    private struct Key: Hashable { let edge: String; let user: String; let sessions: [String]?; let except: String? }
    private var order: [Key] = []
    private var messages: [Key: [ChatMessage]] = [:]
    private var receipts: [Key: [AckedMessageReceipt]] = [:]
    private var presence: [Key: [PresenceStatus]] = [:]

    public init() {}

    public var isEmpty: Bool { order.isEmpty }

    public mutating func add(message: ChatMessage, edge: String, user: String, sessions: [String]? = nil, except: String? = nil) {
        let key = touch(Key(edge: edge, user: user, sessions: sessions, except: except))
        messages[key, default: []].append(message)
    }

    public mutating func add(receipt: AckedMessageReceipt, edge: String, user: String) {
        let key = touch(Key(edge: edge, user: user, sessions: nil, except: nil))
        receipts[key, default: []].append(receipt)
    }

    public mutating func add(presence status: [PresenceStatus], edge: String, user: String, session: String) {
        let key = touch(Key(edge: edge, user: user, sessions: [session], except: nil))
        presence[key, default: []].append(contentsOf: status)
    }

    /// Per edge, in first-seen order: records of ``EnvelopeBatch`` of ``DeliverEnvelope``, one
    /// envelope per (user, sessions) in first-seen order.
    public func records(_ topics: Topics) -> [KafkaOutgoingRecord] {
        var edges: [String] = []
        var envelopes: [String: [DeliverEnvelope]] = [:]
        for key in order {
            if envelopes[key.edge] == nil { edges.append(key.edge) }
            envelopes[key.edge, default: []].append(
                DeliverEnvelope(user: key.user, sessions: key.sessions, exceptSession: key.except,
                                messages: messages[key] ?? [], receipts: receipts[key] ?? [], presence: presence[key] ?? []))
        }
        return edges.flatMap { edge in
            BatchedRecords.make(envelopes[edge] ?? [], topic: topics.deliver(edge: edge))
        }
    }

    private mutating func touch(_ key: Key) -> Key {
        if messages[key] == nil, receipts[key] == nil, presence[key] == nil { order.append(key) }
        return key
    }
}

/// Kafka records that each carry an ``EnvelopeBatch``.
public enum BatchedRecords {
    /// Most bytes of one batched record, well below the brokers' default 1 MB record limit.
    public static let maxBytes = 256 * 1024

    /// Records of `items` for `topic` (no key: these topics need no per-key order).
    public static func make<T: WireObject>(_ items: [T], topic: String) -> [KafkaOutgoingRecord] {
        Envelope.encodeBatches(items, maxBytes: maxBytes).map { KafkaOutgoingRecord(topic: topic, key: nil, value: $0) }
    }

    /// The items of batched records, in order; malformed records are passed to `malformed`.
    public static func decode<T: WireObject>(
        _ type: T.Type, _ records: [KafkaRecord], malformed: (KafkaRecord, any Error) -> Void
    ) -> [T] {
        records.flatMap { record -> [T] in
            do {
                return try Envelope.decode(EnvelopeBatch<T>.self, from: record.value).items
            } catch {
                malformed(record, error)
                return []
            }
        }
    }
}
