import ParleyProtocol

/// Work for the sessions of one event loop, handed to its ``LoopOutbox`` from another thread and
/// applied on the loop by its ``LoopSessions``. Frames are encoded there, on the loop.
enum LoopWork: Sendable {
    /// Records of this edge's deliver topic (from its consumer).
    case deliver([DeliverEnvelope])
    /// Users whose status changed (from `presence.changes`): for the sessions watching them.
    case presence([PresenceStatus])
    /// The broker settled a session's send (from the producer's thread).
    case settled(SettledSend)
    /// The broker did not take a session's query: it gets this error instead of an answer.
    case unanswered(session: String, ProtocolError)
    /// One round of the edge's keep-alive.
    case pingRound
    /// Close every session (the edge is shutting down).
    case closeAll(Session.CloseReason)
}

/// A send the broker acknowledged (`sent`) or refused (`error unavailable`), for its session.
struct SettledSend: Sendable {
    let session: String
    let clientID: String
    let msg: String
    let conv: String
    let ts: UInt64
    let accepted: Bool
}
