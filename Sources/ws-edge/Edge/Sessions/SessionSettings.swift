import NIOCore

/// What every session of an edge is configured with.
struct SessionSettings: Sendable {
    /// The edge's id (on the session's pulls and acks, so answers come back here).
    var edge: String
    /// Live frames that may wait for a session's socket (`--outbound-queue`).
    var queueLimit: Int
    /// Replayed entries a session may be ahead of its last ack before the next page waits (`--sync-window`).
    var syncWindow: UInt64
    /// How long the next page may wait for an ack before the session is closed (`--sync-ack-timeout`).
    var syncAckTimeout: TimeAmount
    /// Entries a session holds while a gap before them is filled (`--max-held`).
    var maxHeld: Int
    /// Messages a v1 session may leave unacked before its cursor stops moving (``LegacyAcks``,
    /// `--v1-unacked`).
    var legacyAckLimit: Int
}
