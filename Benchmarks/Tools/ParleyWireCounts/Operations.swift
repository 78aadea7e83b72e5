// The hot wire operations ParleyWireCounts runs, and the loop callgrind collects (`measuredLoop`).
import ParleyProtocol

private let limits = ProtocolLimits()
private let body100 = String(repeating: "x", count: 100)
private let sendFrame = Array(#"{"type":"send","id":"c-000123","to":"bob_1234","body":"\#(body100)"}"#.utf8)
private let message = ChatMessage(msg: "0190f3a4-5b6c-7d8e-9f01-23456789abcd", from: "alice_1234", to: "bob_1234",
                                  conv: "dm:alice_1234:bob_1234", cseq: 41, body: body100, ts: 1_732_000_000_000, id: "c-000123")
private let inbound = InboundEnvelope(message: message, edge: "edge-1", session: "6f1c2a5e-8d3b-4c7a-9e0f-1a2b3c4d5e6f")
private let inbox = (0..<10).map { i in InboxEntry(user: i.isMultiple(of: 2) ? "alice_1234" : "bob_1234", entry: .message(message)) }
private let deliver = DeliverEnvelope(user: "bob_1234", sessions: ["6f1c2a5e-8d3b-4c7a-9e0f-1a2b3c4d5e6f"],
                                      entries: [.message(message, seq: 77)], epoch: "9d1c0e7f3b2a4c5d8e6f7a8b9c0d1e2f")

/// The operations, each returning something derived from its result so none is optimized away.
let operations: [String: @Sendable () -> Int] = {
    let inboundBytes = Envelope.encode(inbound)
    let inboxBatch = Envelope.encodeBatches(inbox, maxBytes: 1 << 20)[0]
    let deliverBytes = Envelope.encode(deliver)
    return [
        "ClientFrame.decode send": { (try? ClientFrame.decode(sendFrame, limits: limits)) == nil ? 0 : 1 },
        "ServerFrame.entry message encoded": { ServerFrame.entry(.message(message, seq: 77)).encoded().count },
        "InboundEnvelope encode": { Envelope.encode(inbound).count },
        "InboundEnvelope decode": { (try? Envelope.decode(InboundEnvelope.self, from: inboundBytes))?.edge.utf8.count ?? 0 },
        "EnvelopeBatch<InboxEntry> encode (10 items)": { Envelope.encodeBatches(inbox, maxBytes: 1 << 20)[0].count },
        "EnvelopeBatch<InboxEntry> decode (10 items)": {
            (try? Envelope.decode(EnvelopeBatch<InboxEntry>.self, from: inboxBatch))?.items.count ?? 0
        },
        "DeliverEnvelope encode (1 entry)": { Envelope.encode(deliver).count },
        "DeliverEnvelope decode (1 entry)": {
            (try? Envelope.decode(DeliverEnvelope.self, from: deliverBytes))?.entries.count ?? 0
        },
    ]
}()

@inline(never)
func measuredLoop(_ iterations: Int) -> Int {
    let operation = operations[CommandLine.arguments[1]]!
    var sum = 0
    for _ in 0..<iterations { sum &+= operation() }
    return sum
}
