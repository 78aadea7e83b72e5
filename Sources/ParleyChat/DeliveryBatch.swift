import ParleyKafka
import ParleyProtocol

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
