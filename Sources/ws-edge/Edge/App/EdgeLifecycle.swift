import Logging
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit
import ServiceLifecycle

extension EdgeContext {
    /// Handles records of this edge's `chat.deliver.<edge>`: writes each to the sessions it
    /// addresses. Messages written to seed-mode sessions are acked on their behalf.
    func deliver(_ records: [KafkaRecord], logger: Logger) {
        let envelopes = BatchedRecords.decode(DeliverEnvelope.self, records) { record, error in
            logger.error("dropping malformed deliver record", metadata: ["parley.offset": "\(record.offset)", "parley.error": "\(error)"])
        }
        for envelope in envelopes {
            if envelope.resync {
                logger.warning("presence-svc asked for a resync, reporting every session again")
                for session in hub.all { publishPresence(.connect, user: session.user, session: session.id) }
                continue
            }
            for (session, messages) in hub.deliver(envelope) {
                let acks = messages.map { AckedMessage(msg: $0.msg, from: $0.from, id: $0.id) }
                _ = session.acked(messages.map(\.msg))
                publishAck(AckEnvelope(user: session.user, acks: acks))
            }
        }
    }

    /// Handles records of `presence.changes`: tells watching sessions when a user comes online
    /// or goes offline.
    func followPresence(_ records: [KafkaRecord]) {
        for record in records {
            guard let change = try? Envelope.decode(PresenceChange.self, from: record.value), change.transition else { continue }
            hub.presenceChanged(user: change.user, status: change.status)
        }
    }
}

/// Announces the edge (`edge_started`), heartbeats while it runs, and at shutdown closes every
/// session with 1001 "going away", reports the disconnects and `edge_stopped`.
struct EdgeLifecycle: Service {
    let edge: EdgeContext
    let logger: Logger

    func run() async throws {
        let interval = edge.configuration.heartbeatInterval
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully, !Task.isCancelled {
                edge.publishPresence(.heartbeat)
                try? await Task.sleep(for: interval)
            }
        } onGracefulShutdown: {
            edge.beginShutdown()
            for session in edge.hub.all { session.close(.goingAway) }
        }
        // Wait (bounded) for the session handlers to report their disconnects.
        let deadline = ContinuousClock.now + .seconds(10)
        while edge.hub.count > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        edge.publishPresence(.edgeStopped)
        logger.info("sessions closed", metadata: ["parley.remaining": "\(edge.hub.count)"])
    }
}

/// The edge's one keep-alive for all sessions: every `ping-interval` each session that was heard
/// from since the last round gets a ping, and one that stayed silent for a whole round (no
/// frame, not even the pong) is closed, so dead connections leave within two intervals.
struct SessionKeepAlive: Service {
    let edge: EdgeContext

    func run() async throws {
        let interval = edge.configuration.pingInterval
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
            for session in edge.hub.all where !session.pingRound() {
                session.close(.unresponsive)
            }
        }
    }
}
