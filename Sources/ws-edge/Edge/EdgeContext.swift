import Logging
import Metrics
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit
import Synchronization

/// What every session handler and route of one edge shares.
final class EdgeContext: Sendable {
    let id: String
    let configuration: EdgeConfiguration
    let topics: Topics
    let hub: SessionHub
    let outboxes = LoopOutboxes()
    let publisher: EdgePublisher
    let recentSends = RecentSends()
    let authority: TokenAuthority
    let metrics = EdgeMetrics()
    private let shuttingDown = Atomic<Bool>(false)

    init(configuration: EdgeConfiguration, publisher: EdgePublisher, authority: TokenAuthority) {
        id = configuration.edgeID
        self.configuration = configuration
        topics = configuration.common.topics
        hub = SessionHub(maxSessionsPerUser: configuration.maxSessionsPerUser)
        self.publisher = publisher
        self.authority = authority
    }

    var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    func beginShutdown() { shuttingDown.store(true, ordering: .relaxed) }

    /// Produces an envelope (through the ordered publisher).
    func publish<T: WireObject>(_ envelope: T, key: String, topic: String, completion: EdgePublisher.Completion? = nil) {
        publisher.publish(KafkaOutgoingRecord(topic: topic, key: Array(key.utf8), value: Envelope.encode(envelope)),
                          completion: completion)
    }

    /// Queues an ack envelope (coalesced into batched `chat.acks` records by the publisher).
    func publishAck(_ envelope: AckEnvelope) {
        publisher.publishAck(envelope)
    }

    /// Produces a presence event. Keyed by edge id so an edge's events stay in order
    /// (edge_started before the sessions of that run).
    func publishPresence(_ kind: PresenceEvent.Kind, user: String? = nil, session: String? = nil, users: [String]? = nil) {
        let event = PresenceEvent(kind: kind, edge: id, user: user, session: session, users: users, ts: UnixTime.nowMilliseconds)
        publish(event, key: id, topic: topics.presenceEvents)
    }
}

/// ws-edge's metrics.
struct EdgeMetrics: Sendable {
    let messagesIn = Counter(label: "parley_messages_in_total")

    func rejected(_ code: ErrorCode) {
        Counter(label: "parley_frames_rejected_total", dimensions: [("code", code.rawValue)]).increment()
    }

    func closed(_ reason: Session.CloseReason) {
        Counter(label: "parley_sessions_closed_total", dimensions: [("reason", "\(reason)")]).increment()
    }
}
