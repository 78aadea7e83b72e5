import NIOCore
import Synchronization

/// Frames for the sessions of one event loop, handed over from other threads (deliveries from
/// Kafka, `sent` replies after the broker's acknowledgement) and written in one hop: the first
/// session with frames waiting schedules a drain on the loop, sessions that get frames before it
/// runs ride along, and each session is flushed once per drain. So a deliver batch costs one
/// wake-up per event loop, not one per frame, and a session's frames of one batch leave in one
/// system call.
final class LoopOutbox: Sendable {
    private let loop: any EventLoop
    /// Sessions with frames waiting; a drain is scheduled whenever this is not empty.
    private let waiting = Mutex<[Session]>([])

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// Notes that `session` (of this loop) has frames waiting; called once per session until
    /// its frames are written.
    func schedule(_ session: Session) {
        let first = waiting.withLock { waiting -> Bool in
            defer { waiting.append(session) }
            return waiting.isEmpty
        }
        if first { loop.execute { self.drain() } }
    }

    private func drain() {
        for session in waiting.withLock({ $0.take() }) { session.writeWaiting() }
    }
}

/// One ``LoopOutbox`` per event loop of the edge's server.
final class LoopOutboxes: Sendable {
    private let outboxes = Mutex<[ObjectIdentifier: LoopOutbox]>([:])

    func outbox(for loop: any EventLoop) -> LoopOutbox {
        outboxes.withLock { outboxes in
            let key = ObjectIdentifier(loop)
            if let outbox = outboxes[key] { return outbox }
            let outbox = LoopOutbox(loop: loop)
            outboxes[key] = outbox
            return outbox
        }
    }
}
