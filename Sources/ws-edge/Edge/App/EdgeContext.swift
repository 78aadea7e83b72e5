import Metrics
import NIOCore
import ParleyProtocol
import Synchronization

/// What every session handler and route of one edge shares.
final class EdgeContext: Sendable {
    let id: String
    let configuration: EdgeConfiguration
    let hub: SessionHub
    let publisher: EdgePublisher
    let authority: TokenAuthority
    let metrics: EdgeMetrics
    let sessionSettings: SessionSettings
    /// Client ids sent recently through this edge (see ``RecentSends``).
    let recentSends = Mutex(RecentSends<RetryWaiter>())
    /// Server API requests waiting for an answer on this edge's deliver topic.
    let answers = APIAnswers()

    init(configuration: EdgeConfiguration, publisher: EdgePublisher, authority: TokenAuthority) {
        id = configuration.edgeID
        self.configuration = configuration
        self.publisher = publisher
        self.authority = authority
        let metrics = EdgeMetrics()
        self.metrics = metrics
        sessionSettings = SessionSettings(edge: configuration.edgeID, queueLimit: configuration.outboundQueue,
                                          syncWindow: UInt64(configuration.syncWindow),
                                          syncAckTimeout: TimeAmount(configuration.syncAckTimeout),
                                          maxHeld: configuration.maxHeld, legacyAckLimit: configuration.v1Unacked)
        hub = SessionHub(maxSessionsPerUser: configuration.maxSessionsPerUser, reports: publisher, metrics: metrics)
    }

    /// Whether the edge is shutting down (it admits no more sessions).
    var isShuttingDown: Bool { hub.isClosing }
}

/// ws-edge's metrics.
struct EdgeMetrics: Sendable {
    let messagesIn = Counter(label: "parley_messages_in_total")
    let messagesOut = Counter(label: "parley_messages_out_total")

    func rejected(_ code: ErrorCode) {
        Counter(label: "parley_frames_rejected_total", dimensions: [("code", code.rawValue)]).increment()
    }

    func closed(_ reason: Session.CloseReason) {
        Counter(label: "parley_sessions_closed_total", dimensions: [("reason", "\(reason)")]).increment()
    }
}
