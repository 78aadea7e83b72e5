/// Kafka topic names, with a configurable prefix so several stacks (or tests) share a broker.
public struct Topics: Sendable, Equatable {
    public let prefix: String

    public init(prefix: String = "") { self.prefix = prefix }

    /// Client sends, keyed by recipient. Consumed by relay-svc.
    public var inbound: String { prefix + "chat.inbound" }
    /// Every routed message, keyed by recipient. Consumed by offline-svc (the inbox).
    public var inbox: String { prefix + "chat.inbox" }
    /// Client acks, keyed by the acking user. Consumed by relay-svc (receipts) and offline-svc.
    public var acks: String { prefix + "chat.acks" }
    /// Session connect/disconnect, edge heartbeats, presence queries, all keyed by the edge id
    /// (so one edge's events stay in order). Consumed by presence-svc.
    public var presenceEvents: String { prefix + "presence.events" }
    /// Online/offline transitions and new sessions, keyed by user.
    public var presenceChanges: String { prefix + "presence.changes" }
    /// What one edge writes to its sessions: one partition, short retention, read from its end.
    public func deliver(edge: String) -> String { prefix + "chat.deliver." + edge }

    /// The shared topics (everything but the per-edge deliver topics).
    public var shared: [String] { [inbound, inbox, acks, presenceEvents, presenceChanges] }
}
