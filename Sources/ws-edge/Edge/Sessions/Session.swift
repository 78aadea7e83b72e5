import NIOCore
import NIOWebSocket
import ParleyProtocol

/// One WebSocket session on this edge: its identity, its channel, the frames waiting for its
/// socket, and the messages delivered to it that it has not acked yet (so acks can name the
/// sender).
///
/// Loop-bound: a session is made, used and dropped on its channel's event loop, so it needs no
/// lock and is not `Sendable`. Other threads never touch it: they hand work for a loop's sessions
/// to that loop's ``LoopOutbox``, which applies it on the loop. At most `queueLimit` frames may be
/// waiting for the socket: a client that stops reading is disconnected instead of growing the
/// edge's memory.
final class Session {
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

    /// How a session ended.
    enum End: Equatable {
        /// The edge closed it (``Session/close(_:)``).
        case closedByEdge(CloseReason)
        /// The client sent a close frame (``Session/closedByClient(code:)``).
        case closedByClient
        /// The connection went away without a close frame from either side.
        case connectionLost
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
    private let queueLimit: Int
    /// Frames queued since the last ``flush()``.
    private var waiting: [WebSocketFrame] = []
    /// Frames flushed to the channel whose write has not completed yet.
    private var unwritten = 0
    /// Whether anything arrived from the client since the last ping round.
    private var heard = true
    /// How the session ended; nil while it is open.
    private(set) var end: End?
    private var unacked: [String: AckedMessage] = [:]
    private var unackedOrder: [String] = []
    /// Users whose presence this session watches.
    var watching: Set<String> = []

    /// Most delivered-but-unacked messages remembered for receipts.
    static let unackedLimit = 4096
    /// How long a closing session may take to get its close frame out before the connection is
    /// dropped.
    static let closeGrace = TimeAmount.seconds(5)

    init(id: String, user: String, raw: Bool, channel: any Channel, queueLimit: Int) {
        self.id = id
        self.user = user
        self.raw = raw
        self.channel = channel
        self.queueLimit = queueLimit
    }

    var isOpen: Bool { end == nil }

    /// Whether frames are queued that the next ``flush()`` writes.
    var hasWaiting: Bool { !waiting.isEmpty }

    /// Queues a frame for the next ``flush()``; false (and the session is closed) when
    /// `queueLimit` frames are already waiting for the socket, or when the session has ended.
    @discardableResult
    func queue(_ item: Outbound) -> Bool {
        guard end == nil else { return false }
        guard unwritten + waiting.count < queueLimit else {
            close(.overflow)
            return false
        }
        let bytes: [UInt8] = switch item {
        case .frame(let frame): frame.encoded()
        case .raw(let text): Array(text.utf8)
        }
        waiting.append(WebSocketFrame(fin: true, opcode: .text, data: channel.allocator.buffer(bytes: bytes)))
        return true
    }

    /// Queues a frame and writes it at once (a reply to the client's own frame).
    func send(_ item: Outbound) {
        if queue(item) { flush() }
    }

    /// Writes the queued frames with one flush.
    func flush() {
        let frames = waiting.take()
        guard let last = frames.last else { return }
        for frame in frames.dropLast() { channel.write(frame, promise: nil) }
        unwritten += frames.count
        channel.writeAndFlush(last).assumeIsolated().whenComplete { _ in
            self.unwritten -= frames.count
        }
    }

    /// Queues a chat message and remembers who sent it, for the receipt when it is acked.
    func deliver(_ message: ChatMessage) -> Bool {
        if message.to == user {
            if unacked.updateValue(AckedMessage(msg: message.msg, from: message.from, id: message.id), forKey: message.msg) == nil {
                unackedOrder.append(message.msg)
            }
            // Forget the oldest half at once when over twice the limit (amortised O(1)).
            if unackedOrder.count > 2 * Self.unackedLimit {
                let dropped = unackedOrder.count - Self.unackedLimit
                for msg in unackedOrder[..<dropped] { unacked[msg] = nil }
                unackedOrder.removeFirst(dropped)
            }
        }
        return queue(raw ? .raw(message.body) : .frame(.message(message)))
    }

    /// The ack records for `msgs`: sender and client id where this session delivered them.
    func acked(_ msgs: [String]) -> [AckedMessage] {
        msgs.map { msg in unacked.removeValue(forKey: msg) ?? AckedMessage(msg: msg, from: nil, id: nil) }
    }

    /// The edge closes the session: a close frame with the reason's code after the frames already
    /// queued, then the connection (at once for `.overflow`: a close frame could not pass the
    /// client's full buffer). Does nothing when the session already ended.
    func close(_ reason: CloseReason) {
        guard end == nil else { return }
        end = .closedByEdge(reason)
        let channel = self.channel
        guard reason != .overflow else {
            waiting = []
            channel.close(promise: nil)
            return
        }
        flush()
        var data = channel.allocator.buffer(capacity: 2 + reason.text.utf8.count)
        data.write(webSocketErrorCode: WebSocketErrorCode(codeNumber: Int(reason.code)))
        data.writeString(reason.text)
        // Only our side closes after the close frame: closing the whole socket while the client's
        // frames are still arriving makes the kernel answer them with a reset, and a client that
        // reads the reset first never sees the close frame (1006 instead of the reason's code).
        // The connection ends at the client's close frame, its FIN, or after the grace period.
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
        }
        channel.eventLoop.scheduleTask(in: Self.closeGrace) { channel.close(promise: nil) }
    }

    /// The client sent a close frame: echo its code (RFC 6455 §5.5.1), then close. When the edge
    /// had closed first this is the client's answer, and the connection just closes.
    func closedByClient(code: WebSocketErrorCode) {
        let channel = self.channel
        guard end == nil else {
            channel.close(promise: nil)
            return
        }
        end = .closedByClient
        var reply = channel.allocator.buffer(capacity: 2)
        reply.write(webSocketErrorCode: code)
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// The connection is gone; returns how the session ended (`.connectionLost` when neither side
    /// had closed it).
    func connectionClosed() -> End {
        let end = self.end ?? .connectionLost
        self.end = end
        return end
    }

    /// Notes that the client sent something (it is alive).
    func heardFrom() { heard = true }

    /// One round of the edge's keep-alive: true when the client was heard from since the last
    /// round (and it is sent a ping now), false when it stayed silent for a whole round.
    func pingRound() -> Bool {
        guard heard else { return false }
        heard = false
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .ping, data: channel.allocator.buffer(capacity: 0)), promise: nil)
        return true
    }
}
