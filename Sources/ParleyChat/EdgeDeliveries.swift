import ParleyKafka
import ParleyProtocol

/// What a service sends to edges (`chat.deliver.<edge>`) for one batch: envelopes collected per
/// edge in order and sent as one batched record per edge (``BatchedRecords``) instead of one
/// per frame.
public struct EdgeDeliveries: Sendable {
    private var edges: [String] = []
    private var envelopes: [String: [DeliverEnvelope]] = [:]

    public init() {}

    public var isEmpty: Bool { edges.isEmpty }

    /// Adds `envelope` for `edge`.
    public mutating func add(_ envelope: DeliverEnvelope, edge: String) {
        if envelopes[edge] == nil { edges.append(edge) }
        envelopes[edge, default: []].append(envelope)
    }

    /// Appends to the last envelope for `edge` when `joins` says it may take more, else adds `envelope`.
    public mutating func add(_ envelope: DeliverEnvelope, edge: String, joining joins: (DeliverEnvelope) -> Bool,
                             append: (inout DeliverEnvelope) -> Void) {
        if let last = envelopes[edge]?.indices.last, joins(envelopes[edge]![last]) {
            append(&envelopes[edge]![last])
        } else {
            add(envelope, edge: edge)
        }
    }

    /// The records, per edge in first-seen order.
    public func records(_ topics: Topics) -> [KafkaOutgoingRecord] {
        edges.flatMap { BatchedRecords.make(envelopes[$0] ?? [], topic: topics.deliver(edge: $0)) }
    }
}
