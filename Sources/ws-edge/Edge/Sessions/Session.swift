import NIOCore
import NIOWebSocket
import ParleyProtocol

/// One WebSocket session on this edge: its identity, its channel, the frames waiting for its
/// socket, and its place in its user's stream (``SessionStreamState``).
///
/// Loop-bound: a session is made, used and dropped on its channel's event loop, so it needs no
/// lock and is not `Sendable`. Other threads never touch it: they hand work for a loop's sessions
/// to that loop's ``LoopOutbox``, which applies it on the loop. At most `queueLimit` live frames
/// may be waiting for the socket: a client that stops reading is disconnected instead of growing
/// the edge's memory. Replay frames do not count: the replay is pulled a page at a time, each
/// once the previous one was written.
final class Session {
    /// Why the edge closes a session, with the WebSocket close code.
    enum CloseReason: Sendable, Equatable {
        case overflow, flood, tooManySessions, replaced, goingAway, unresponsive, noAcks, unavailable, disconnected

        var code: UInt16 {
            switch self {
            case .overflow, .flood, .tooManySessions, .replaced, .noAcks, .disconnected: 1008
            case .goingAway, .unresponsive: 1001
            case .unavailable: 1013
            }
        }

        var text: String {
            switch self {
            case .overflow: "too slow: outbound queue full"
            case .flood: "too many frames"
            case .tooManySessions: "too many sessions for this user"
            case .replaced: "replaced: the user opened a newer session beyond the session limit"
            case .goingAway: "server going away"
            case .unresponsive: "no answer to pings"
            case .noAcks: "too slow: no acks"
            case .unavailable: "backend unavailable, reconnect"
            case .disconnected: "disconnected by the server"
            }
        }
    }

    /// Which protocol the client speaks.
    enum Kind: Sendable, Equatable {
        /// A v2 client: it named its device (`device=` on connect).
        case v2(device: String)
        /// A v1 client: no device; it shares the legacy device and acks by message id.
        case v1
        /// A seed-compatible `/read` session: raw text frames, acked on its behalf.
        case seed

        /// The device the client named (nil: v1 and seed sessions).
        var namedDevice: String? {
            if case .v2(let device) = self { device } else { nil }
        }

        /// The device whose cursor the session moves.
        var device: String { namedDevice ?? Device.legacy }
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
    let kind: Kind
    let settings: SessionSettings
    /// Where the session's pulls, acks and unsubscribe go.
    let reports: any SessionReports
    private let channel: any Channel
    /// Frames queued since the last ``flush(then:)``, and how many of them are live.
    private var waiting: [WebSocketFrame] = []
    private var waitingLive = 0
    /// Live frames flushed to the channel whose write has not completed yet.
    private var unwrittenLive = 0
    /// The last flush's write, until it completed.
    private var lastWrite: EventLoopFuture<Void>?
    /// Whether anything arrived from the client since the last ping round.
    private var heard = true
    /// How the session ended; nil while it is open.
    private(set) var end: End? {
        didSet { stream.ackTimer?.cancel() }
    }
    /// The session's place in its user's stream (``SessionStreamState``).
    var stream: SessionStreamState
    /// Users whose presence this session watches: of its latest `watch`, those presence-svc allowed.
    var watching: Set<String> = []
    /// The users of the session's latest `watch`.
    var watchRequested: Set<String> = []
    /// When its `typing` signals were last forwarded.
    var typing = TypingThrottle()

    /// How long a closing session may take to get its close frame out before the connection is
    /// dropped.
    static let closeGrace = TimeAmount.seconds(5)

    init(id: String, user: String, kind: Kind, channel: any Channel, settings: SessionSettings, reports: any SessionReports) {
        self.id = id
        self.user = user
        self.kind = kind
        self.channel = channel
        self.settings = settings
        self.reports = reports
        stream = SessionStreamState(settings: settings)
    }

    var isOpen: Bool { end == nil }

    /// Whether frames are queued that the next ``flush(then:)`` writes.
    var hasWaiting: Bool { !waiting.isEmpty }

    /// The session's event loop.
    var eventLoop: any EventLoop { channel.eventLoop }

    /// Queues a frame for the next ``flush(then:)``; false when the session has ended, or (and
    /// the session is closed) when the frame is `live` and `queueLimit` live frames are already
    /// waiting for the socket.
    @discardableResult
    func queue(_ item: Outbound, live: Bool = true) -> Bool {
        guard end == nil else { return false }
        if live {
            guard unwrittenLive + waitingLive < settings.queueLimit else {
                close(.overflow)
                return false
            }
            waitingLive += 1
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

    /// Writes the queued frames with one flush; `written` runs once they and every frame
    /// written before them left for the socket (or failed to).
    func flush(then written: (() -> Void)? = nil) {
        let frames = waiting.take()
        let live = waitingLive
        waitingLive = 0
        guard let last = frames.last else {
            guard let written else { return }
            if let lastWrite {
                lastWrite.assumeIsolated().whenComplete { _ in written() }
            } else {
                written()
            }
            return
        }
        for frame in frames.dropLast() { channel.write(frame, promise: nil) }
        unwrittenLive += live
        let write = channel.writeAndFlush(last)
        lastWrite = write
        write.assumeIsolated().whenComplete { _ in
            self.unwrittenLive -= live
            if self.lastWrite === write { self.lastWrite = nil }
            written?()
        }
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
            waitingLive = 0
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
