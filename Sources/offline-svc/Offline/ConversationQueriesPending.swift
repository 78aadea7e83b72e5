import Logging
import ParleyProtocol
import ParleyRedis

/// Stand-in until the history and conversation-list queries are merged: answers `unavailable`.
struct ConversationQueries: Sendable {
    init(redis: RedisClient, logger: Logger) {}

    func answer(_ query: QueryEnvelope) async throws -> DeliverEnvelope {
        DeliverEnvelope(user: query.user, sessions: [query.session],
                        error: ProtocolError(.unavailable, "\(query.kind.rawValue) is not available yet"))
    }
}
