@testable import Offline
import ParleyBackend
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit
import ParleyTestSupport
import Testing

enum OfflineBudgetShared {
    static let stack = TaskLocal<ServiceStack?>(wrappedValue: nil)
}

/// The per-user query budget against a running offline-svc with a small one (1 unit a second,
/// 10 at once): a user looping history queries gets `rate_limited`, another user's sync on the
/// same partition, queued in the middle of the loop, is answered with its page.
@Suite("offline-svc query budget", SharedStack(slot: OfflineBudgetShared.stack, start: {
    try await ServiceStack.start("offline-budget") { try await startOffline(prefix: $0, extra: ["--query-rate", "1", "--query-burst", "10"]) }
}))
struct OfflineQueryBudgetTests {
    @Test("one user's history loop is refused with rate_limited before and after another user's sync, which gets its page")
    func loopDoesNotStarveSync() async throws {
        let inputs = OfflineInputs(stack: try sharedStack(OfflineBudgetShared.stack))
        let abuser = uniqueID("abuser")
        var victim = uniqueID("victim")
        while StreamPartition.of(victim, count: testTopicPartitions) != StreamPartition.of(abuser, count: testTopicPartitions) { victim = uniqueID("victim") }
        let edge = try #require(try await inputs.edges(1).first)
        let conv = Conversation.direct(abuser, victim)

        func history(_ index: Int) -> QueryEnvelope {
            QueryEnvelope(kind: .history, user: abuser, device: "d", session: "q\(index)", edge: edge.id, conv: conv, limit: 100)
        }
        // 20 full pages (5 units each) where the budget holds 10 units, the victim's sync, 20 more.
        for index in 0..<20 { try await inputs.query(history(index)) }
        try await inputs.query(QueryEnvelope(kind: .sync, user: victim, device: "phone", session: "v1", edge: edge.id, after: 0, subscribe: true))
        for index in 20..<40 { try await inputs.query(history(index)) }

        let answers = try await edge.reader.waitFor(DeliverEnvelope.self, "the answers") { records -> [String: DeliverEnvelope]? in
            var bySession: [String: DeliverEnvelope] = [:]
            for record in records { bySession[record.value.sessions?.first ?? ""] = record.value }
            return bySession.count >= 41 ? bySession : nil
        }
        #expect(answers["v1"]?.page != nil && answers["v1"]?.error == nil, "the victim's sync got its page")
        let limited = (0..<40).filter { answers["q\($0)"]?.error?.code == .rateLimited }
        #expect(limited.contains { $0 < 20 } && limited.contains { $0 >= 20 }, "the abuser was limited before and after the sync")
        #expect(answers["q0"]?.history != nil, "within the budget, history is answered")
        #expect(limited.allSatisfy { answers["q\($0)"]?.error?.message.contains("1 units per second") == true },
                "each refusal names the rate")
        await edge.reader.stop()
    }

    @Test("costs: a full history page 5, a small one 1, members 2, sync 1, unsubscribe nothing; a sync is never refused")
    func costs() {
        func query(_ kind: QueryEnvelope.Kind, limit: Int? = nil) -> QueryEnvelope {
            QueryEnvelope(kind: kind, user: "u", device: "d", session: "s", edge: "e", conv: "dm:a:u", limit: limit)
        }
        #expect(QueryBudget.cost(of: query(.history, limit: 100)) == 5)
        #expect(QueryBudget.cost(of: query(.history, limit: 10)) == 1)
        #expect(QueryBudget.cost(of: query(.conversations, limit: 1_000_000)) == 5, "a forged limit costs no more than the cap")
        #expect(QueryBudget.cost(of: query(.members)) == 2)
        #expect(QueryBudget.cost(of: query(.sync)) == 1)
        #expect(QueryBudget.cost(of: query(.unsubscribe)) == 0)

        let budget = QueryBudget(limits: .init(rate: 1, burst: 5))
        let now = ContinuousClock.now
        #expect(budget.charge(query(.history, limit: 100), now: now) == nil)
        #expect(budget.charge(query(.members), now: now)?.code == .rateLimited)
        #expect(budget.charge(query(.sync), now: now) == nil)
        #expect(budget.charge(query(.members), now: now + .seconds(1))?.code == .rateLimited, "one unit back after a second")
        #expect(budget.charge(query(.members), now: now + .seconds(3)) == nil)
    }
}
