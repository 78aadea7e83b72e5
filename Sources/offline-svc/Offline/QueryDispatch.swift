import Logging
import Metrics
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyRedis

/// Handles `chat.queries`: `sync` and `unsubscribe` on the user's stream (in record order, one
/// pipeline, so a session's unsubscribe always follows its sync), `history`, `conversations`
/// and `members` through ``ConversationQueries``, answered concurrently with them so a sync
/// never waits behind another user's history query of the same batch. A query over its
/// user's ``QueryBudget`` is answered `rate_limited` instead. Every answer goes to the asking
/// session's edge.
struct QueryDispatch: Sendable {
    let pager: SyncPager
    let conversations: ConversationQueries
    let budget: QueryBudget
    let redis: RedisClient
    let producer: KafkaProducer
    let topics: Topics
    let malformed: MalformedRecords
    private let rateLimited = Counter(label: "parley_queries_rate_limited_total")

    /// Handles a batch of `chat.queries` records.
    func handle(_ records: [KafkaRecord]) async throws {
        var deliveries = EdgeDeliveries()
        let queries = malformed.decode(QueryEnvelope.self, records).filter { query in
            if let problem = Self.problem(query) {
                malformed.drop(query, problem, topic: topics.queries)
                return false
            }
            guard let refusal = budget.charge(query) else { return true }
            rateLimited.increment()
            deliveries.add(DeliverEnvelope(user: query.user, sessions: [query.session], error: refusal), edge: query.edge)
            return false
        }
        guard !queries.isEmpty else {
            if !deliveries.isEmpty { _ = try await producer.send(batch: deliveries.records(topics)) }
            return
        }
        let conversations = conversations
        async let answers = withThrowingTaskGroup(of: (QueryEnvelope, DeliverEnvelope).self) { group in
            for query in queries where [.history, .conversations, .members, .stream].contains(query.kind) {
                group.addTask { (query, try await conversations.answer(query)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let pages = try await streamSteps(queries)

        for (query, answer) in zip(queries.filter { $0.kind == .sync }, pages) { deliveries.add(answer, edge: query.edge) }
        for (query, answer) in try await answers { deliveries.add(answer, edge: query.edge) }
        if !deliveries.isEmpty { _ = try await producer.send(batch: deliveries.records(topics)) }
    }

    /// Runs the syncs and unsubscribes in order; returns the sync answers in order.
    private func streamSteps(_ queries: [QueryEnvelope]) async throws -> [DeliverEnvelope] {
        var pipeline = RedisPipeline()
        var started: [SyncPager.Started] = []
        for query in queries {
            switch query.kind {
            case .sync: started.append(pager.start(query, in: &pipeline))
            case .unsubscribe: Subscriptions.unsubscribe(user: query.user, session: query.session, in: &pipeline)
            case .history, .conversations, .members, .stream: break
            }
        }
        guard !pipeline.isEmpty else { return [] }
        return try await pager.finish(started, replies: try await redis.send(pipeline))
    }

    /// What makes a query unusable (nil: it is fine).
    static func problem(_ query: QueryEnvelope) -> String? {
        if let problem = Origin.problem(user: query.user, edge: query.edge, session: query.session) { return problem }
        guard query.kind != .sync || Identifier.isValid(query.device) || query.device == Device.legacy else {
            return "device is not an identifier"
        }
        return nil
    }
}
