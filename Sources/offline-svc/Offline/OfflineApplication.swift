import Logging
import ParleyBackend
import ParleyServiceKit
import ServiceLifecycle

/// Builds offline-svc: consumers of chat.inbox (append and live delivery), chat.acks (acks and
/// read moves), chat.queries (sync, unsubscribe, history, conversations) and presence.changes
/// (subscriptions of sessions that left), the producer, Redis, and the operational HTTP server.
public func buildOffline(_ configuration: OfflineConfiguration, logger: Logger,
                         onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> [any Service] {
    let common = configuration.common
    let topics = common.topics
    let backbone = try await ServiceBackbone.start(common, redis: configuration.redis, logger: logger)
    // Receipts go to the sender's StreamPartition, which depends on chat.inbox's partition count.
    let inboxPartitions = try await TopicSetup.ensure([], kafka: common.kafka, logger: logger, partitionsOf: topics.inbox)
        ?? common.topicPartitions
    let redis = backbone.redis, producer = backbone.producer
    let scripts = StreamScripts(policy: configuration.streams)
    let malformed = MalformedRecords(logger: logger)
    let appender = StreamAppender(scripts: scripts, redis: redis, producer: producer, topics: topics, malformed: malformed, logger: logger)
    let moves = CursorMoves(scripts: scripts, redis: redis, producer: producer, topics: topics,
                            inboxPartitions: inboxPartitions, groupReceiptsMax: configuration.groupReceiptsMax, malformed: malformed)
    let queries = QueryDispatch(pager: SyncPager(scripts: scripts, redis: redis, logger: logger),
                                conversations: ConversationQueries(redis: redis, logger: logger),
                                budget: QueryBudget(limits: QueryBudget.Limits(rate: configuration.queryRate, burst: configuration.queryBurst)),
                                redis: redis, producer: producer, topics: topics, malformed: malformed)
    let subscriptions = Subscriptions(redis: redis, malformed: malformed)

    let inbox = try backbone.consumer(common, group: "offline.inbox", topic: topics.inbox, logger: logger)
    let acks = try backbone.consumer(common, group: "offline.acks", topic: topics.acks, background: true, logger: logger)
    let asked = try backbone.consumer(common, group: "offline.queries", topic: topics.queries, logger: logger)
    // Not a background consumer: a session_offline processed late could drop a subscription that
    // an edge presence-svc had given up for dead renewed meanwhile (docs/architecture.md).
    let changes = try backbone.consumer(common, group: "offline.presence", topic: topics.presenceChanges, logger: logger)
    return backbone.closers + [
        ConsumerLoop(name: "offline.inbox", consumer: inbox, logger: logger, handle: appender.append),
        ConsumerLoop(name: "offline.acks", consumer: acks, logger: logger, handle: moves.handle),
        ConsumerLoop(name: "offline.queries", consumer: asked, logger: logger, handle: queries.handle),
        ConsumerLoop(name: "offline.presence", consumer: changes, logger: logger, handle: subscriptions.handle(presence:)),
        RedisMemoryGauges(redis: redis, interval: configuration.redisMemoryInterval, logger: logger),
        OperationalServer.application(configuration: common, readiness: backbone.readiness, logger: logger,
                                      onServerRunning: onServerRunning),
    ]
}
