@testable import Edge
import Foundation
import Metrics
import NIOCore
import NIOEmbedded
import NIOWebSocket
import ParleyProtocol
import Synchronization

/// What sessions reported (acks, presence events), recorded instead of produced.
final class RecordedReports: SessionReports {
    struct Presence: Equatable { let kind: PresenceEvent.Kind; let user: String?; let session: String? }

    private let recorded = Mutex<(acks: [AckEnvelope], presence: [Presence])>(([], []))

    func publishAck(_ envelope: AckEnvelope) { recorded.withLock { $0.acks.append(envelope) } }

    func publishPresence(_ kind: PresenceEvent.Kind, user: String?, session: String?, users: [String]?) {
        recorded.withLock { $0.presence.append(Presence(kind: kind, user: user, session: session)) }
    }

    var acks: [AckEnvelope] { recorded.withLock { $0.acks } }
    var presence: [Presence] { recorded.withLock { $0.presence } }
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
}

/// Counts flushes and, while `holding`, keeps writes from completing (a client that does not read).
final class OutboundProbe: ChannelOutboundHandler {
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private(set) var flushes = 0
    var holding = false
    private var held: [EventLoopPromise<Void>?] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if holding {
            held.append(promise)
        } else {
            context.write(data, promise: promise)
        }
    }

    func flush(context: ChannelHandlerContext) {
        flushes += 1
        context.flush()
    }
}

/// A session on an `EmbeddedChannel` of `loop`, with an ``OutboundProbe`` in its pipeline.
struct EmbeddedSession {
    let session: Session
    let channel: EmbeddedChannel
    let probe: OutboundProbe

    init(id: String = UUID().uuidString, user: String, raw: Bool = false, queueLimit: Int = 100, loop: EmbeddedEventLoop = EmbeddedEventLoop()) throws {
        probe = OutboundProbe()
        channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(probe)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        session = Session(id: id, user: user, raw: raw, channel: channel, queueLimit: queueLimit)
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

/// A loop's outbox on an embedded loop, with reports recorded.
func embeddedOutbox(_ loop: EmbeddedEventLoop, reports: RecordedReports = RecordedReports()) -> LoopOutbox {
    LoopOutbox(eventLoop: loop, reports: reports, messagesOut: Counter(label: "parley_test_messages_out_total"))
}

func chatMessage(from: String, to: String, body: String, id: String? = nil) -> ChatMessage {
    let msg = MessageID.make()
    return ChatMessage(msg: msg, from: from, to: to, conv: Conversation.direct(from, to), body: body, ts: MessageID.unixMilliseconds(of: msg) ?? 0, id: id)
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
