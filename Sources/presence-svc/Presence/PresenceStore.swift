import Logging
import Metrics
import ParleyBackend
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit

/// Applies presence events to Redis and publishes what changed. Owns `presence:{user}`,
/// `edgesessions:{edge}` and `edges`.
public struct PresenceStore: Sendable {
    let topics: Topics
    let redis: RedisClient
    let producer: KafkaProducer
    let logger: Logger

    private let sessionsGauge = Gauge(label: "parley_presence_sessions_changes")
    private let edgesRemoved = Counter(label: "parley_edges_expired_total")
    private let malformed = Counter(label: "parley_malformed_records_total", dimensions: [("service", "presence-svc")])

    public init(topics: Topics, redis: RedisClient, producer: KafkaProducer, logger: Logger) {
        self.topics = topics
        self.redis = redis
        self.producer = producer
        self.logger = logger
    }

    /// Handles a batch of `presence.events` records in order.
    public func apply(_ records: [KafkaRecord]) async throws {
        var outputs: [KafkaOutgoingRecord] = []
        var queries = DeliveryBatch()
        var resyncs: [String] = []
        for record in records {
            guard let event = try? Envelope.decode(PresenceEvent.self, from: record.value) else {
                malformed.increment()
                logger.error("dropping malformed presence event", metadata: ["parley.offset": "\(record.offset)"])
                continue
            }
            switch event.kind {
            case .connect:
                guard let user = event.user, let session = event.session else { continue }
                outputs += try await connect(user: user, session: session, edge: event.edge)
            case .disconnect:
                guard let user = event.user, let session = event.session else { continue }
                outputs += try await disconnect(user: user, session: session, edge: event.edge)
            case .heartbeat:
                // Liveness is when this service heard from the edge, not the edge's clock: a
                // heartbeat delayed in the broker must not make a live edge look dead. An edge
                // that was given up for dead (ZADD adds it anew) is asked to report its sessions.
                let added = try await redis.send(["ZADD", .init(RedisKeys.edges), .init(Int(UnixTime.nowMilliseconds)),
                                                  .init(event.edge)])
                if added.int == 1 { resyncs.append(event.edge) }
            case .edgeStarted, .edgeStopped:
                outputs += try await removeEdge(event.edge)
                if event.kind == .edgeStarted {
                    _ = try await redis.send(["ZADD", .init(RedisKeys.edges), .init(Int(UnixTime.nowMilliseconds)), .init(event.edge)])
                }
            case .query:
                guard let user = event.user, let session = event.session, let users = event.users else { continue }
                let statuses = try await status(of: users)
                queries.add(presence: statuses, edge: event.edge, user: user, session: session)
            }
        }
        outputs += queries.records(topics)
        if !outputs.isEmpty { _ = try await producer.send(batch: outputs) }
        await requestResync(resyncs)
    }

    /// Asks edges that were given up for dead but are heard from again to report their
    /// sessions. Best effort and not awaited: an edge whose deliver topic is gone must not
    /// stall presence.
    private func requestResync(_ edges: [String]) async {
        for edge in edges {
            logger.warning("heard from an edge given up for dead, asking it to resync", metadata: ["parley.edge": "\(edge)"])
            let pending = await producer.enqueue(batch: BatchedRecords.make([DeliverEnvelope(user: "", resync: true)],
                                                                          topic: topics.deliver(edge: edge)))
            Task { [logger] in
                do {
                    _ = try await pending.deliveries()
                } catch {
                    logger.error("resync request failed", metadata: ["parley.edge": "\(edge)", "parley.error": "\(error)"])
                }
            }
        }
    }

    /// Removes the sessions of every edge whose last heartbeat is older than `timeout`.
    public func expireEdges(olderThan timeout: Duration, now: UInt64 = UnixTime.nowMilliseconds) async throws {
        let cutoff = Int(now) - Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let dead = try await redis.send(["ZRANGEBYSCORE", .init(RedisKeys.edges), "-inf", .init(cutoff)]).array ?? []
        for edge in dead.compactMap(\.string) {
            logger.warning("edge stopped heartbeating, removing its sessions", metadata: ["parley.edge": "\(edge)"])
            let outputs = try await removeEdge(edge)
            if !outputs.isEmpty { _ = try await producer.send(batch: outputs) }
            _ = try await redis.send(["ZREM", .init(RedisKeys.edges), .init(edge)])
            edgesRemoved.increment()
        }
    }

    private func connect(user: String, session: String, edge: String) async throws -> [KafkaOutgoingRecord] {
        let replies = try await redis.transaction([
            ["HSET", .init(RedisKeys.presence(user)), .init(session), .init(edge)],
            ["SADD", .init(RedisKeys.edgeSessions(edge)), .init(member(user, session))],
            ["HLEN", .init(RedisKeys.presence(user))],
        ])
        let added = replies[0].int == 1
        let count = replies[2].int ?? 0
        return [change(.sessionOnline, user: user, session: session, edge: edge, remaining: count, transition: added && count == 1)]
    }

    private func disconnect(user: String, session: String, edge: String) async throws -> [KafkaOutgoingRecord] {
        let replies = try await redis.transaction([
            ["HDEL", .init(RedisKeys.presence(user)), .init(session)],
            ["SREM", .init(RedisKeys.edgeSessions(edge)), .init(member(user, session))],
            ["HLEN", .init(RedisKeys.presence(user))],
        ])
        guard replies[0].int == 1 else { return [] }
        let count = replies[2].int ?? 0
        return [change(.sessionOffline, user: user, session: session, edge: edge, remaining: count, transition: count == 0)]
    }

    private func removeEdge(_ edge: String) async throws -> [KafkaOutgoingRecord] {
        let members = try await redis.send(["SMEMBERS", .init(RedisKeys.edgeSessions(edge))]).array ?? []
        var outputs: [KafkaOutgoingRecord] = []
        for item in members.compactMap(\.string) {
            let parts = item.split(separator: "\t", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            outputs += try await disconnect(user: parts[0], session: parts[1], edge: edge)
        }
        _ = try await redis.send(["DEL", .init(RedisKeys.edgeSessions(edge))])
        return outputs
    }

    private func status(of users: [String]) async throws -> [PresenceStatus] {
        let replies = try await redis.pipeline(users.map { ["HLEN", .init(RedisKeys.presence($0))] })
        return zip(users, replies).map { user, reply in
            PresenceStatus(user: user, status: (reply.int ?? 0) > 0 ? .online : .offline)
        }
    }

    private func change(_ kind: PresenceChange.Kind, user: String, session: String, edge: String,
                        remaining: Int64, transition: Bool) -> KafkaOutgoingRecord {
        let change = PresenceChange(kind: kind, user: user, session: session, edge: edge,
                                    status: remaining > 0 ? .online : .offline, transition: transition)
        return KafkaOutgoingRecord(topic: topics.presenceChanges, key: Array(user.utf8), value: Envelope.encode(change))
    }

    private func member(_ user: String, _ session: String) -> String { "\(user)\t\(session)" }
}
