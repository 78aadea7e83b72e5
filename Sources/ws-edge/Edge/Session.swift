import ParleyProtocol
import Synchronization

/// One WebSocket session on this edge: its identity, its bounded outbound queue, and the
/// messages delivered to it that it has not acked yet (so acks can name the sender).
final class Session: Sendable {
    /// Why the edge closes a session, with the WebSocket close code.
    enum CloseReason: Sendable, Equatable {
        case overflow, flood, tooManySessions, goingAway

        var code: UInt16 {
            switch self {
            case .overflow, .flood, .tooManySessions: 1008
            case .goingAway: 1001
            }
        }

        var text: String {
            switch self {
            case .overflow: "too slow: outbound queue full"
            case .flood: "too many frames"
            case .tooManySessions: "too many sessions for this user"
            case .goingAway: "server going away"
            }
        }
    }

    /// What the writer task sends.
    enum Outbound: Sendable {
        case frame(ServerFrame)
        /// A raw text frame (the seed-compatible `/read` mode).
        case raw(String)
    }

    let id: String
    let user: String
    /// A seed-compatible `/read` session: gets message bodies as raw text and cannot ack.
    let raw: Bool
    let outbound: AsyncStream<Outbound>
    private let continuation: AsyncStream<Outbound>.Continuation
    private let state: Mutex<State>

    private struct State {
        var closeReason: CloseReason?
        var unacked: [String: AckedMessage] = [:]
        var unackedOrder: [String] = []
        var watching: Set<String> = []
    }

    /// Most delivered-but-unacked messages remembered for receipts.
    static let unackedLimit = 4096

    init(id: String, user: String, raw: Bool, queueLimit: Int) {
        self.id = id
        self.user = user
        self.raw = raw
        (outbound, continuation) = AsyncStream.makeStream(of: Outbound.self, bufferingPolicy: .bufferingOldest(queueLimit))
        state = Mutex(State())
    }

    /// Queues a frame; returns false (and asks to close the session) when the queue is full.
    @discardableResult
    func enqueue(_ item: Outbound) -> Bool {
        switch continuation.yield(item) {
        case .enqueued: return true
        case .dropped:
            close(.overflow)
            return false
        case .terminated: return false
        @unknown default: return false
        }
    }

    /// Queues a chat message and remembers who sent it, for the receipt when it is acked.
    func deliver(_ message: ChatMessage) -> Bool {
        if message.to == user {
            state.withLock { state in
                if state.unacked.updateValue(AckedMessage(msg: message.msg, from: message.from, id: message.id),
                                             forKey: message.msg) == nil {
                    state.unackedOrder.append(message.msg)
                }
                // Forget the oldest half at once when over twice the limit (amortised O(1)).
                if state.unackedOrder.count > 2 * Self.unackedLimit {
                    let dropped = state.unackedOrder.count - Self.unackedLimit
                    for msg in state.unackedOrder[..<dropped] { state.unacked[msg] = nil }
                    state.unackedOrder.removeFirst(dropped)
                }
            }
        }
        return enqueue(raw ? .raw(message.body) : .frame(.message(message)))
    }

    /// The ack records for `msgs`: sender and client id where this session delivered them.
    func acked(_ msgs: [String]) -> [AckedMessage] {
        state.withLock { state in
            msgs.map { msg in state.unacked.removeValue(forKey: msg) ?? AckedMessage(msg: msg, from: nil, id: nil) }
        }
    }

    /// Asks the writer to close the session; the first reason wins.
    func close(_ reason: CloseReason) {
        let first = state.withLock { state -> Bool in
            guard state.closeReason == nil else { return false }
            state.closeReason = reason
            return true
        }
        if first { continuation.finish() }
    }

    var closeReason: CloseReason? { state.withLock { $0.closeReason } }

    /// Replaces the watch list; returns the previous one.
    func watch(_ users: Set<String>) -> Set<String> {
        state.withLock { state in
            defer { state.watching = users }
            return state.watching
        }
    }

    var watching: Set<String> { state.withLock { $0.watching } }
}
