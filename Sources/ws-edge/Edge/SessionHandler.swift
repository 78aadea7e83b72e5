import Foundation
import HummingbirdWebSocket
import Logging
import Metrics
import NIOCore
import NIOWebSocket
import ParleyKafka
import ParleyProtocol

/// Runs one WebSocket session: welcome, then reads frames and answers them while a writer
/// task drains the session's outbound queue. Bad frames get an `error` frame; only floods,
/// oversize frames and a full outbound queue close the session.
struct SessionHandler: Sendable {
    let edge: EdgeContext

    func run(user: String, raw: Bool, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
             logger baseLogger: Logger) async {
        let session = Session(id: UUID().uuidString.lowercased(), user: user, raw: raw, queueLimit: edge.configuration.outboundQueue)
        var logger = baseLogger
        logger[metadataKey: "parley.user"] = "\(user)"
        logger[metadataKey: "parley.session"] = "\(session.id)"
        guard edge.hub.add(session) else {
            edge.metrics.closed(.tooManySessions)
            try? await outbound.close(.policyViolation, reason: Session.CloseReason.tooManySessions.text)
            return
        }
        if !raw {
            session.enqueue(.frame(.welcome(user: user, session: session.id, edge: edge.id)))
        }
        edge.publishPresence(.connect, user: user, session: session.id)
        logger.debug("session opened")

        await withTaskGroup(of: Void.self) { group in
            group.addTask { await writeLoop(session, outbound: outbound) }
            await readLoop(session, inbound: inbound, logger: logger)
            session.close(session.closeReason ?? .goingAway)
            await group.waitForAll()
        }
        // Report the disconnect before leaving the hub: shutdown waits for an empty hub and
        // then reports edge_stopped, which must come after every disconnect.
        edge.publishPresence(.disconnect, user: user, session: session.id)
        edge.hub.remove(session)
        logger.debug("session closed", metadata: ["parley.reason": "\(session.closeReason.map { "\($0)" } ?? "client")"])
    }

    private func writeLoop(_ session: Session, outbound: WebSocketOutboundWriter) async {
        do {
            for await item in session.outbound {
                if session.closeReason != nil, session.closeReason != .goingAway { break }
                let bytes: [UInt8] = switch item {
                case .frame(let frame): frame.encoded()
                case .raw(let text): Array(text.utf8)
                }
                try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: bytes))))
            }
            if let reason = session.closeReason, reason != .goingAway || edge.isShuttingDown {
                edge.metrics.closed(reason)
                try await outbound.close(WebSocketErrorCode(codeNumber: Int(reason.code)), reason: reason.text)
            }
        } catch {
            // The connection is gone; the read loop ends too.
        }
    }

    private func readLoop(_ session: Session, inbound: WebSocketInboundStream, logger: Logger) async {
        var bucket = TokenBucket(rate: edge.configuration.sendRate, burst: edge.configuration.sendBurst)
        var strikes = 0
        do {
            for try await message in inbound.messages(maxSize: edge.configuration.limits.maxFrameBytes) {
                if session.closeReason != nil { break }
                guard bucket.take() else {
                    strikes += 1
                    edge.metrics.rejected(.rateLimited)
                    if strikes > edge.configuration.sendBurst {
                        session.close(.flood)
                        break
                    }
                    session.enqueue(.frame(.error(code: .rateLimited, message: "slow down", id: nil)))
                    continue
                }
                strikes = 0
                switch message {
                case .text(let text):
                    handle(text: text, session: session, logger: logger)
                case .binary:
                    edge.metrics.rejected(.badRequest)
                    session.enqueue(.frame(.error(code: .badRequest, message: "binary frames are not supported", id: nil)))
                }
            }
        } catch {
            logger.debug("session read ended", metadata: ["parley.error": "\(error)"])
        }
    }

    private func handle(text: String, session: Session, logger: Logger) {
        if session.raw {
            handleSeed(text: text, session: session)
            return
        }
        let frame: ClientFrame
        do {
            frame = try ClientFrame.decode(text.utf8, limits: edge.configuration.limits)
        } catch {
            edge.metrics.rejected(error.code)
            session.enqueue(.frame(error.frame))
            return
        }
        switch frame {
        case .send(let id, let to, let body):
            send(clientID: id, to: to, body: body, session: session, logger: logger)
        case .ack(let msgs):
            let acked = session.acked(msgs)
            edge.publishAck(AckEnvelope(user: session.user, acks: acked))
        case .ping:
            session.enqueue(.frame(.pong))
        case .watch(let users):
            let wanted = Set(users)
            edge.hub.watch(session, users: wanted)
            if !wanted.isEmpty {
                edge.publishPresence(.query, user: session.user, session: session.id, users: users)
            }
        }
    }

    private func send(clientID: String, to: String, body: String, session: Session, logger: Logger) {
        let now = UnixTime.nowMilliseconds
        let (msg, _) = edge.recentSends.messageID(user: session.user, clientID: clientID) { MessageID.make(unixMilliseconds: now) }
        let message = ChatMessage(msg: msg, from: session.user, to: to, body: body, ts: MessageID.unixMilliseconds(of: msg) ?? now,
                                  id: clientID)
        let envelope = InboundEnvelope(message: message, edge: edge.id, session: session.id)
        edge.metrics.messagesIn.increment()
        edge.publish(envelope, key: to, topic: edge.topics.inbound) { result in
            switch result {
            case .success:
                session.enqueue(.frame(.sent(id: clientID, msg: msg, ts: message.ts)))
            case .failure(let error):
                edge.metrics.rejected(.unavailable)
                logger.warning("send not accepted by the broker", metadata: ["parley.msg": "\(msg)", "parley.error": "\(error)"])
                session.enqueue(.frame(.error(code: .unavailable, message: "message not accepted, retry", id: clientID)))
            }
        }
    }

    /// The seed tutorial's `{"user":"<recipient>","msg":"<text>"}`: sent without a reply.
    private func handleSeed(text: String, session: Session) {
        guard let frame = try? SeedFrame.decode(text.utf8, limits: edge.configuration.limits) else {
            edge.metrics.rejected(.badRequest)
            return
        }
        let msg = MessageID.make()
        let message = ChatMessage(msg: msg, from: session.user, to: frame.user, body: frame.msg,
                                  ts: MessageID.unixMilliseconds(of: msg) ?? UnixTime.nowMilliseconds, id: msg)
        edge.metrics.messagesIn.increment()
        edge.publish(InboundEnvelope(message: message, edge: edge.id, session: session.id), key: frame.user, topic: edge.topics.inbound)
    }
}
