// The pure code every chat message runs through, once per message or per batch:
//   ws-edge:   ClientFrame.decode (send) -> MessageID.make -> Envelope.encode(InboundEnvelope)
//   relay-svc: Envelope.decode(InboundEnvelope) -> EnvelopeBatch<InboxEntry> records (one per member)
//   offline-svc: EnvelopeBatch<InboxEntry> decode -> EdgeDeliveries.records (DeliverEnvelope per edge)
//   ws-edge:   Envelope.decode(DeliverEnvelope) -> ServerFrame.encoded() (the message entry)
// Each benchmark runs its operation `scaledIterations` times (1,000 per measured iteration); the
// figures marked `*` in the output are per operation (wall clock ns, mallocs), throughput in K ops/s.
import Benchmark
import ParleyProtocol
import ParleyChat

private let limits = ProtocolLimits()
private let body100 = String(repeating: "x", count: 100)
private let sendFrame = Array(#"{"type":"send","id":"c-000123","to":"bob_1234","body":"\#(body100)"}"#.utf8)
private let message = ChatMessage(msg: "0190f3a4-5b6c-7d8e-9f01-23456789abcd", from: "alice_1234", to: "bob_1234",
                                  conv: "dm:alice_1234:bob_1234", cseq: 41, body: body100, ts: 1_732_000_000_000, id: "c-000123")
private let inbound = InboundEnvelope(message: message, edge: "edge-1", session: "6f1c2a5e-8d3b-4c7a-9e0f-1a2b3c4d5e6f")
private let inboundBytes = Envelope.encode(inbound)
private let deliver = DeliverEnvelope(user: "bob_1234", sessions: ["6f1c2a5e-8d3b-4c7a-9e0f-1a2b3c4d5e6f"],
                                      entries: [.message(message, seq: 77)], epoch: "9d1c0e7f3b2a4c5d8e6f7a8b9c0d1e2f")
private let deliverBytes = Envelope.encode(deliver)

private func messages(_ n: Int) -> [ChatMessage] {
    (0..<n).map { i in
        ChatMessage(msg: MessageID.make(), from: "alice_\(i % 100)", to: "bob_\(i % 100)", conv: "dm:alice_\(i % 100):bob_\(i % 100)",
                    cseq: UInt64(i + 1), body: body100, ts: 1_732_000_000_000, id: "c-\(i)")
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],  // cpuTotal ticks at 10 ms here: useless per op
        timeUnits: .nanoseconds,
        warmupIterations: 3,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1000)

    Benchmark("ClientFrame.decode send (100 B body)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? ClientFrame.decode(sendFrame, limits: limits))
        }
    }

    Benchmark("ServerFrame.encoded message entry") { benchmark in
        let frame = ServerFrame.entry(.message(message, seq: 77))
        for _ in benchmark.scaledIterations {
            blackHole(frame.encoded())
        }
    }

    Benchmark("Envelope.encode InboundEnvelope") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(Envelope.encode(inbound))
        }
    }

    Benchmark("Envelope.decode InboundEnvelope") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? Envelope.decode(InboundEnvelope.self, from: inboundBytes))
        }
    }

    Benchmark("Envelope.encode DeliverEnvelope (1 entry)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(Envelope.encode(deliver))
        }
    }

    Benchmark("Envelope.decode DeliverEnvelope (1 entry)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? Envelope.decode(DeliverEnvelope.self, from: deliverBytes))
        }
    }

    Benchmark("MessageID.make") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(MessageID.make())
        }
    }

    // ws-edge calls it for every send to fill `ts` (4 % of an edge's CPU in the perf profile).
    Benchmark("MessageID.unixMilliseconds(of:)") { benchmark in
        let id = MessageID.make()
        for _ in benchmark.scaledIterations {
            blackHole(MessageID.unixMilliseconds(of: id))
        }
    }

    // relay-svc per consumed batch: 100 messages -> 200 stream entries (both members) in batched
    // chat.inbox records; offline-svc: those entries -> one deliver record per edge.
    let batch = messages(100)
    let topics = Topics()
    Benchmark("EnvelopeBatch<InboxEntry> records (100 messages, 200 entries)",
              configuration: .init(scalingFactor: .one)) { benchmark in
        for _ in benchmark.scaledIterations {
            let entries = batch.flatMap { m in [InboxEntry(user: m.from, entry: .message(m)), InboxEntry(user: m.to ?? m.from, entry: .message(m))] }
            blackHole(BatchedRecords.make(entries, topic: topics.inbox))
        }
    }

    Benchmark("EdgeDeliveries.records (200 entries, 200 users, 2 edges)",
              configuration: .init(scalingFactor: .one)) { benchmark in
        for _ in benchmark.scaledIterations {
            var deliveries = EdgeDeliveries()
            for (i, m) in batch.enumerated() {
                for user in [m.from, m.to ?? m.from] {
                    deliveries.add(DeliverEnvelope(user: user, sessions: ["s-\(i)"], entries: [.message(m, seq: UInt64(i + 1))], epoch: "e"),
                                   edge: i % 2 == 0 ? "edge-1" : "edge-2")
                }
            }
            blackHole(deliveries.records(topics))
        }
    }
}
