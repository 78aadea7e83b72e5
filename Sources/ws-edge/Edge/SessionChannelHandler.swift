import Foundation
import Logging
import NIOCore
import NIOWebSocket

/// One WebSocket session in its channel's pipeline, after the upgrade (behind NIO's frame
/// decoder and aggregator): registers the session, applies flood control, answers control
/// frames, hands text frames to ``FrameHandler``, and reports the session gone when the
/// connection closes. Runs on the channel's event loop; no Swift task is kept per session.
final class SessionChannelHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let edge: EdgeContext
    private let frames: FrameHandler
    private let user: String
    private let raw: Bool
    private var logger: Logger
    private var session: Session?
    private var bucket: TokenBucket
    private var strikes = 0

    init(edge: EdgeContext, user: String, raw: Bool, logger: Logger) {
        self.edge = edge
        frames = FrameHandler(edge: edge)
        self.user = user
        self.raw = raw
        self.logger = logger
        bucket = TokenBucket(rate: edge.configuration.sendRate, burst: edge.configuration.sendBurst)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let session = Session(id: UUID().uuidString.lowercased(), user: user, raw: raw, channel: context.channel,
                              outbox: edge.outboxes.outbox(for: context.eventLoop), queueLimit: edge.configuration.outboundQueue)
        logger[metadataKey: "parley.user"] = "\(user)"
        logger[metadataKey: "parley.session"] = "\(session.id)"
        guard edge.hub.add(session) else {
            edge.metrics.closed(.tooManySessions)
            session.close(.tooManySessions)
            return
        }
        self.session = session
        if !raw {
            session.enqueue(.frame(.welcome(.init(user: user, session: session.id, edge: edge.id))))
        }
        edge.publishPresence(.connect, user: user, session: session.id)
        logger.debug("session opened")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let session else { return }
        session.heardFrom()
        switch frame.opcode {
        case .text, .binary:
            guard session.closeReason == nil else { return }
            guard bucket.take() else {
                strikes += 1
                edge.metrics.rejected(.rateLimited)
                if strikes > edge.configuration.sendBurst {
                    session.close(.flood)
                } else {
                    session.enqueue(.frame(.error(.init(.rateLimited, "slow down"))))
                }
                return
            }
            strikes = max(0, strikes - 1)  // a client that keeps pushing past the rate still adds up
            if frame.opcode == .binary {
                edge.metrics.rejected(.badRequest)
                session.enqueue(.frame(.error(.init(.badRequest, "binary frames are not supported"))))
                return
            }
            let text = frame.unmaskedData
            frames.handle(text: text.readableBytesView, session: session, logger: logger)
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            // The client is done: echo its close code (RFC 6455 §5.5.1), then close.
            session.markClosed(.goingAway)
            var data = frame.unmaskedData
            let code = data.readWebSocketErrorCode() ?? .normalClosure
            var reply = context.channel.allocator.buffer(capacity: 2)
            reply.write(webSocketErrorCode: code)
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply)))
                .whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
        default:
            break  // pong (liveness is any frame), continuations (the aggregator joins them)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let session {
            self.session = nil
            if let reason = session.closeReason, reason != .goingAway || edge.isShuttingDown {
                edge.metrics.closed(reason)
            }
            session.markClosed(.goingAway)
            // Report the disconnect before leaving the hub: shutdown waits for an empty hub and
            // then reports edge_stopped, which must come after every disconnect.
            edge.publishPresence(.disconnect, user: session.user, session: session.id)
            edge.hub.remove(session)
            logger.debug("session closed", metadata: ["parley.reason": "\(session.closeReason.map { "\($0)" } ?? "client")"])
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The server allows half-closure (for HTTP); a WebSocket client that closed its side is gone.
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("session error", metadata: ["parley.error": "\(error)"])
        context.close(promise: nil)
    }
}
