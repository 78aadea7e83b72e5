@testable import Edge
import Foundation
import Metrics
import NIOCore
import NIOEmbedded
import NIOWebSocket
import ParleyProtocol
import Synchronization

/// What sessions reported (cursor moves, queries, presence events), recorded instead of produced.
final class RecordedReports: SessionReports {
    struct Presence: Equatable { let kind: PresenceEvent.Kind; let user: String?; let session: String? }

    private let recorded = Mutex<(cursors: [CursorMove], queries: [QueryEnvelope], presence: [Presence])>(([], [], []))
    /// Queries fail (as when the broker does not take them) instead of being recorded.
    private let failingQueries: Bool

    init(failingQueries: Bool = false) { self.failingQueries = failingQueries }

    func publishCursor(_ move: CursorMove) { recorded.withLock { $0.cursors.append(move) } }

    func publishQuery(_ query: QueryEnvelope, completion: EdgePublisher.Completion?) {
        guard !failingQueries else {
            completion?(.failure(EdgeError.shuttingDown))
            return
        }
        recorded.withLock { $0.queries.append(query) }
    }

    func publishPresence(_ kind: PresenceEvent.Kind, user: String?, session: String?, users: [String]?) {
        recorded.withLock { $0.presence.append(Presence(kind: kind, user: user, session: session)) }
    }

    var cursors: [CursorMove] { recorded.withLock { $0.cursors } }
    var queries: [QueryEnvelope] { recorded.withLock { $0.queries } }
    var presence: [Presence] { recorded.withLock { $0.presence } }

    /// The `after` of each sync pull, in order.
    var pulls: [UInt64?] { queries.filter { $0.kind == .sync }.map(\.after) }
    /// The `seq` of each ack, in order.
    var acks: [UInt64?] { cursors.filter { $0.kind == .ack }.map(\.seq) }
}

/// A server frame as the client reads it.
struct ReceivedFrame: Decodable, Equatable {
    var type: String
    var id: String?
    var msg: String?
    var user: String?
    var status: String?
    var code: String?
    var by: String?
    var seq: UInt64?
    var conv: String?
    var epoch: String?
    var reset: Bool?
}

/// Counts flushes and, while `holding`, keeps writes from completing (a client that does not
/// read) until ``release()``.
final class OutboundProbe: ChannelOutboundHandler {
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private(set) var flushes = 0
    var holding = false
    private var held: [(data: NIOAny, promise: EventLoopPromise<Void>?)] = []
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if holding {
            held.append((data, promise))
        } else {
            context.write(data, promise: promise)
        }
    }

    func flush(context: ChannelHandlerContext) {
        flushes += 1
        if !holding { context.flush() }
    }

    /// The held writes complete (the client reads again), and later ones are no longer held.
    func release() {
        holding = false
        guard let context else { return }
        for (data, promise) in held.take() { context.write(data, promise: promise) }
        context.flush()
    }
}

/// A session on an `EmbeddedChannel` of `loop`, with an ``OutboundProbe`` in its pipeline.
struct EmbeddedSession {
    let session: Session
    let channel: EmbeddedChannel
    let probe: OutboundProbe

    init(id: String = UUID().uuidString, user: String, kind: Session.Kind = .v2(device: "d1"), queueLimit: Int = 100,
         syncWindow: UInt64 = 1000, syncAckTimeout: TimeAmount = .seconds(30), maxHeld: Int = 1024, legacyAckLimit: Int = 4096,
         reports: RecordedReports = RecordedReports(), loop: EmbeddedEventLoop = EmbeddedEventLoop()) throws {
        probe = OutboundProbe()
        channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(probe)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let settings = SessionSettings(edge: "edge-1", queueLimit: queueLimit, syncWindow: syncWindow, syncAckTimeout: syncAckTimeout,
                                       maxHeld: maxHeld, legacyAckLimit: legacyAckLimit)
        session = Session(id: id, user: user, kind: kind, channel: channel, settings: settings, reports: reports)
    }

    /// The frames written to the socket so far.
    func written() throws -> [WebSocketFrame] {
        var frames: [WebSocketFrame] = []
        while let frame = try channel.readOutbound(as: WebSocketFrame.self) { frames.append(frame) }
        return frames
    }

    /// The text frames written so far, decoded as the client would.
    func received() throws -> [ReceivedFrame] {
        try written().map { frame in
            guard frame.opcode == .text else { throw UnexpectedFrame(opcode: frame.opcode) }
            return try JSONDecoder().decode(ReceivedFrame.self, from: Data(frame.data.readableBytesView))
        }
    }
}

struct UnexpectedFrame: Error { let opcode: WebSocketOpcode }

extension EmbeddedSession {
    /// Starts the session's stream at `after` (its first page came, empty) and drops what that wrote.
    func started(after: UInt64 = 0) throws -> EmbeddedSession {
        session.startStream(since: after, epoch: "e1")
        _ = session.receive([], page: syncPage(after: after, head: after), epoch: nil)
        session.flush()
        _ = try written()
        return self
    }
}

/// A loop's outbox on an embedded loop, with reports recorded.
func embeddedOutbox(_ loop: EmbeddedEventLoop, reports: RecordedReports = RecordedReports()) -> LoopOutbox {
    LoopOutbox(eventLoop: loop, reports: reports, messagesOut: Counter(label: "parley_test_messages_out_total"))
}

func chatMessage(from: String, to: String, body: String, id: String? = nil) -> ChatMessage {
    let msg = MessageID.make()
    return ChatMessage(msg: msg, from: from, to: to, conv: Conversation.direct(from, to), body: body, ts: MessageID.unixMilliseconds(of: msg) ?? 0, id: id)
}

/// A `message` entry at `seq` of `to`'s stream (or `from`'s: the same entry).
func messageEntry(_ seq: UInt64, from: String = "bob", to: String = "alice", body: String? = nil, id: String? = nil) -> StreamEntry {
    var message = chatMessage(from: from, to: to, body: body ?? "m\(seq)", id: id ?? "c\(seq)")
    message.cseq = seq
    return .message(message, seq: seq)
}

/// A `receipt` entry at `seq`.
func receiptEntry(_ seq: UInt64, by: String = "bob", conv: String = Conversation.direct("alice", "bob")) -> StreamEntry {
    StreamEntry(kind: .receipt, seq: seq, msg: MessageID.make(), conv: conv, cseq: 1, by: by, status: .delivered, id: "c1")
}

/// A `read` entry at `seq`.
func readEntry(_ seq: UInt64, conv: String = Conversation.direct("alice", "bob")) -> StreamEntry {
    StreamEntry(kind: .read, seq: seq, conv: conv, cseq: 1)
}

/// The page answering a pull after `after` in epoch `e1`, up to `head`.
func syncPage(after: UInt64, head: UInt64, more: Bool = false, reset: Bool = false, epoch: String = "e1") -> SyncPage {
    SyncPage(epoch: epoch, head: head, after: after, more: more, reset: reset)
}

extension WebSocketFrame {
    var text: String { String(decoding: data.readableBytesView, as: UTF8.self) }

    /// The close code and reason of a close frame.
    var close: (code: UInt16, reason: String)? {
        guard opcode == .connectionClose else { return nil }
        var data = self.data
        guard let code = data.readInteger(as: UInt16.self) else { return nil }
        return (code, data.readString(length: data.readableBytes) ?? "")
    }
}
