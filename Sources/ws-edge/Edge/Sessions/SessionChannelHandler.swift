import Foundation
import Logging
import NIOCore
import NIOWebSocket
import ParleyProtocol

/// One WebSocket session in its channel's pipeline, after the upgrade (behind NIO's frame
/// decoder and aggregator): registers the session, applies flood control, answers control
/// frames, hands text frames to ``FrameHandler``, and reports the session gone when the
/// connection closes. Runs on the channel's event loop; no Swift task is kept per session.
///
/// Flood control counts every frame but a close in the session's token bucket, pings and pongs
/// too: a frame over the rate is dropped (a data frame gets `rate_limited`, a ping no pong), and
/// `--send-burst` frames over it close the session with 1008. A client that does not read is
/// closed (``Session/CloseReason/overflow``) once `--max-outbound-bytes` wait in the edge for its
/// socket, and a ping is not answered while its socket is backed up.
final class SessionChannelHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let edge: EdgeContext
    private let frames: FrameHandler
    private let request: SessionRequest
    private var logger: Logger
    /// The open session and its loop's outbox; nil before it was admitted and after it closed.
    private var session: (session: Session, outbox: LoopOutbox)?
    private var bucket: TokenBucket
    private var strikes = 0

    init(edge: EdgeContext, request: SessionRequest, logger: Logger) {
        self.edge = edge
        frames = FrameHandler(edge: edge)
        self.request = request
        self.logger = logger
        bucket = TokenBucket(rate: edge.configuration.sendRate, burst: edge.configuration.sendBurst)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = edge.configuration.maxOutboundBytes
        // Unwritable = more than `bound` bytes wait in the edge: channelWritabilityChanged closes the session.
        try? context.channel.syncOptions?.setOption(ChannelOptions.writeBufferWaterMark,
                                                    value: .init(low: bound / 2, high: bound))
        let outbox = edge.hub.outbox(for: context.eventLoop)
        let user = request.user
        let session = Session(id: UUID().uuidString.lowercased(), user: user, kind: request.kind, channel: context.channel,
                              settings: edge.sessionSettings, reports: edge.publisher)
        logger[metadataKey: "parley.user"] = "\(user)"
        logger[metadataKey: "parley.session"] = "\(session.id)"
        switch edge.hub.admit(user: user) {
        case .tooManySessions:
            refuse(session, .tooManySessions)
            return
        case .shuttingDown:
            refuse(session, .goingAway)
            return
        case .admitted:
            break
        }
        outbox.sessions.add(session)
        self.session = (session, outbox)
        if session.kind != .seed {
            session.send(.frame(.welcome(.init(user: user, session: session.id, edge: edge.id, device: session.kind.namedDevice))))
        }
        edge.publisher.publishPresence(.connect, user: user, session: session.id)
        session.startStream(since: request.since, epoch: request.epoch)
        logger.debug("session opened")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let (session, outbox) = session else { return }
        session.heardFrom()
        if session.isOpen, frame.opcode != .connectionClose, !withinRate(frame, session) { return }
        switch frame.opcode {
        case .text, .binary:
            guard session.isOpen else {
                if case .closedByEdge = session.end, frame.opcode == .text {
                    frames.handleWhileClosing(text: frame.unmaskedData.readableBytesView, session: session)
                }
                return
            }
            if frame.opcode == .binary {
                edge.metrics.rejected(.badRequest)
                session.send(.frame(.error(ProtocolError(.badRequest, "binary frames are not supported"))))
                return
            }
            let text = frame.unmaskedData
            frames.handle(text: text.readableBytesView, session: session, outbox: outbox, logger: logger)
        case .ping:
            guard session.isOpen, context.channel.isWritable else { return }
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            var data = frame.unmaskedData
            session.closedByClient(code: data.readWebSocketErrorCode() ?? .normalClosure)
        default:
            break  // pong (liveness is any frame), continuations (the aggregator joins them)
        }
    }

    /// Takes a token for `frame`; a frame over the rate adds a strike, and strikes beyond the burst
    /// close the session (a client that keeps pushing past the rate still adds up).
    private func withinRate(_ frame: WebSocketFrame, _ session: Session) -> Bool {
        guard bucket.take() else {
            strikes += 1
            edge.metrics.rejected(.rateLimited)
            if strikes > edge.configuration.sendBurst {
                session.close(.flood)
            } else if frame.opcode == .text || frame.opcode == .binary {
                let clientID = frame.opcode == .text
                    ? ClientFrame.clientID(of: frame.unmaskedData.readableBytesView, limits: edge.configuration.limits) : nil
                session.send(.frame(.error(ProtocolError(.rateLimited, "slow down", clientID: clientID))))
            }
            return false
        }
        strikes = max(0, strikes - 1)
        return true
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable, let session = session?.session {
            session.close(.overflow)
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let (session, outbox) = session {
            self.session = nil
            let end = session.connectionClosed()
            if case .closedByEdge(let reason) = end { edge.metrics.closed(reason) }
            // Report the disconnect before leaving the hub: shutdown waits for an empty hub and
            // then reports edge_stopped, which must come after every disconnect.
            edge.publisher.publishPresence(.disconnect, user: session.user, session: session.id)
            session.endStream()
            outbox.sessions.remove(session)
            edge.hub.release(user: session.user)
            logger.debug("session closed", metadata: ["parley.end": "\(end)"])
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

    /// Closes a session that was not admitted; it never counted as open.
    private func refuse(_ session: Session, _ reason: Session.CloseReason) {
        edge.metrics.closed(reason)
        session.close(reason)
    }
}
