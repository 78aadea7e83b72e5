import ParleyBackend
import ParleyKafka
import ParleyProtocol
import ParleyRedis

/// A session subscribed to its user's live entries. `subs:{user}` holds session →
/// `<edge> <device> <subscribed at, unix ms>`; the sync script writes it in the same step as
/// the session's first page, and the time picks the oldest one to drop beyond
/// ``StreamPolicy/maxSubscriptions`` (`--max-subscriptions`).
struct Subscriber: Sendable, Equatable {
    var session: String
    var edge: String

    /// Reads a stored subscription; nil for a value not in that form.
    init?(session: String, stored: String) {
        let parts = stored.split(separator: " ")
        guard parts.count == 3 else { return nil }
        self.session = session
        edge = String(parts[0])
    }
}

/// Ends subscriptions: a session's `unsubscribe` (it closed; ordered after its `sync` on
/// `chat.queries`) and presence-svc's `session_offline` (the session left, or its edge died).
struct Subscriptions: Sendable {
    let redis: RedisClient
    let malformed: MalformedRecords

    /// Adds the removal of `session`'s subscription to `user`'s stream to `pipeline`.
    static func unsubscribe(user: String, session: String, in pipeline: inout RedisPipeline) {
        pipeline.add(.hdel(RedisKeys.StreamKeys(user).subscriptions, [session]))
    }

    /// Handles a batch of `presence.changes`: every `session_offline` drops that session's subscription.
    func handle(presence records: [KafkaRecord]) async throws {
        var pipeline = RedisPipeline()
        for change in malformed.decode(PresenceChange.self, records) where change.kind == .sessionOffline {
            Self.unsubscribe(user: change.user, session: change.session, in: &pipeline)
        }
        _ = try await redis.send(pipeline)
    }
}
