import NIOCore
import NIOWebSocket
import ParleyProtocol
import Synchronization

/// One WebSocket session on this edge: its identity, its channel, and the messages delivered to
/// it that it has not acked yet (so acks can name the sender).
///
/// Frames may be handed over from any thread and leave in the order they were handed over: on
/// the channel's event loop they are written at once, from elsewhere they wait in the session
/// until the loop's ``LoopOutbox`` writes them (one hop and one flush for all that arrived in the
/// meantime); no task is parked per session. At most `queueLimit` frames may be waiting for the
/// socket: a client that stops reading is disconnected instead of growing the edge's memory.
final class Session: Sendable {
    /// Why the edge closes a session, with the WebSocket close code.
    enum CloseReason: Sendable, Equatable {
        case overflow, flood, tooManySessions, goingAway, unresponsive

        var code: UInt16 {
            switch self {
            case .overflow, .flood, .tooManySessions: 1008
            case .goingAway, .unresponsive: 1001
            }
        }

        var text: String {
            switch self {
            case .overflow: "too slow: outbound queue full"
            case .flood: "too many frames"
            case .tooManySessions: "too many sessions for this user"
            case .goingAway: "server going away"
            case .unresponsive: "no answer to pings"
            }
        }
    }

    /// What goes out to the client.
    enum Outbound: Sendable {
        case frame(ServerFrame)
        /// A raw text frame (the seed-compatible `/read` mode).
        case raw(String)
    }

    let id: String
    let user: String
    /// A seed-compatible `/read` session: gets message bodies as raw text and cannot ack.
    let raw: Bool
    private let channel: any Channel
    private let outbox: LoopOutbox
    private let queueLimit: Int
    /// Frames handed to the channel whose write has not completed yet.
    private let unwritten = Atomic<Int>(0)
    /// Whether anything arrived from the client since the last ping round.
    private let heard = Atomic<Bool>(true)
    private let state: Mutex<State>

    private struct State {
        var closeReason: CloseReason?
        /// Frames not yet written. Whenever this is not empty a write of them is coming: the
        /// outbox's drain, or (on the event loop) the ``Session/enqueue(_:)`` that added them.
        var waiting: [WebSocketFrame] = []
        var unacked: [String: AckedMessage] = [:]
        var unackedOrder: [String] = []
        var watching: Set<String> = []
    }

    /// Most delivered-but-unacked messages remembered for receipts.
    static let unackedLimit = 4096
    /// How long a closing session may take to get its close frame out before the connection is
    /// dropped.
    static let closeGrace = TimeAmount.seconds(5)

    init(id: String, user: String, raw: Bool, channel: any Channel, outbox: LoopOutbox, queueLimit: Int) {
        self.id = id
        self.user = user
        self.raw = raw
        self.channel = channel
        self.outbox = outbox
        self.queueLimit = queueLimit
        state = Mutex(State())
    }

    /// Writes a frame; returns false (and closes the session) when `queueLimit` frames are
    /// already waiting for the socket, or when the session is closing.
    @discardableResult
    func enqueue(_ item: Outbound) -> Bool {
        guard unwritten.wrappingAdd(1, ordering: .relaxed).newValue <= queueLimit else {
            unwritten.wrappingSubtract(1, ordering: .relaxed)
            close(.overflow)
            return false
        }
        let bytes: [UInt8] = switch item {
        case .frame(let frame): frame.encoded()
        case .raw(let text): Array(text.utf8)
        }
        let frame = WebSocketFrame(fin: true, opcode: .text, data: channel.allocator.buffer(bytes: bytes))
        let onLoop = channel.eventLoop.inEventLoop
        let wasEmpty = state.withLock { state -> Bool? in
            guard state.closeReason == nil else { return nil }
            defer { state.waiting.append(frame) }
            return state.waiting.isEmpty
        }
        guard let wasEmpty else {
            unwritten.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        if onLoop {
            writeWaiting()
        } else if wasEmpty {
            outbox.schedule(self)
        }
        return true
    }

    /// Writes the frames waiting, with one flush; on the channel's event loop only.
    func writeWaiting() {
        let frames = state.withLock { $0.waiting.take() }
        guard let last = frames.last else { return }
        for frame in frames.dropLast() { channel.write(frame, promise: nil) }
        channel.writeAndFlush(last).whenComplete { _ in
            self.unwritten.wrappingSubtract(frames.count, ordering: .relaxed)
        }
    }

    /// Writes a chat message and remembers who sent it, for the receipt when it is acked.
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

    /// Closes the session: sends a close frame with the reason's code after the frames already
    /// written, then closes the connection (at once for `.overflow`: a close frame could not pass
    /// the client's full buffer). The first reason wins; later calls do nothing.
    func close(_ reason: CloseReason) {
        guard markClosed(reason) else { return }
        let channel = self.channel
        guard reason != .overflow else {
            channel.close(promise: nil)
            return
        }
        var data = channel.allocator.buffer(capacity: 2 + reason.text.utf8.count)
        data.write(webSocketErrorCode: WebSocketErrorCode(codeNumber: Int(reason.code)))
        data.writeString(reason.text)
        channel.eventLoop.execute { [data] in
            self.writeWaiting()
            channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)).whenComplete { _ in
                channel.close(promise: nil)
            }
            channel.eventLoop.scheduleTask(in: Self.closeGrace) { channel.close(promise: nil) }
        }
    }

    /// Records that the session ended (e.g. the client closed it) without writing anything;
    /// true when this was the first reason.
    @discardableResult
    func markClosed(_ reason: CloseReason) -> Bool {
        state.withLock { state in
            guard state.closeReason == nil else { return false }
            state.closeReason = reason
            return true
        }
    }

    var closeReason: CloseReason? { state.withLock { $0.closeReason } }

    /// Notes that the client sent something (it is alive).
    func heardFrom() { heard.store(true, ordering: .relaxed) }

    /// One round of the edge's keep-alive: true when the client was heard from since the last
    /// round (and it is sent a ping now), false when it stayed silent for a whole round.
    func pingRound() -> Bool {
        guard heard.exchange(false, ordering: .relaxed) else { return false }
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .ping, data: channel.allocator.buffer(capacity: 0)), promise: nil)
        return true
    }

    /// Replaces the watch list; returns the previous one.
    func watch(_ users: Set<String>) -> Set<String> {
        state.withLock { state in
            defer { state.watching = users }
            return state.watching
        }
    }

    var watching: Set<String> { state.withLock { $0.watching } }
}
