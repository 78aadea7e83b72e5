import Logging
import ParleyBackend
import ParleyServiceKit
import ServiceLifecycle

/// Builds offline-svc: consumers of chat.inbox (append), chat.acks (remove) and
/// presence.changes (replay), the producer for replays, Redis, and the operational HTTP server.
public func buildOffline(_ configuration: OfflineConfiguration, logger: Logger,
                         onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> [any Service] {
    let common = configuration.common
    let backbone = try await ServiceBackbone.start(common, redis: configuration.redis, logger: logger)
    let inbox = Inbox(topics: common.topics, redis: backbone.redis, producer: backbone.producer,
                      maxMessages: configuration.inboxMax, retention: configuration.inboxRetention,
                      replayBatch: configuration.replayBatch, logger: logger)
    let messages = try backbone.consumer(common, group: "offline.inbox", topic: common.topics.inbox, logger: logger)
    let acks = try backbone.consumer(common, group: "offline.acks", topic: common.topics.acks, background: true, logger: logger)
    let changes = try backbone.consumer(common, group: "offline.presence", topic: common.topics.presenceChanges, logger: logger)
    return backbone.closers + [
        ConsumerLoop(name: "offline.inbox", consumer: messages, logger: logger, handle: inbox.append),
        ConsumerLoop(name: "offline.acks", consumer: acks, logger: logger, handle: inbox.remove),
        ConsumerLoop(name: "offline.presence", consumer: changes, logger: logger, handle: inbox.replay),
        OperationalServer.application(configuration: common, readiness: backbone.readiness, logger: logger,
                                      onServerRunning: onServerRunning),
    ]
}
