import Metrics
import NIOCore
import Synchronization

/// The one way into an event loop's sessions from other threads: deliveries (the deliver and
/// presence consumers), settled sends (the producer's thread), keep-alive rounds and the
/// shutdown's close. Work is queued here and applied on the loop in one hop: the first item
/// queued schedules a drain, items queued before it runs ride along, and each session is flushed
/// once per drain. So a deliver batch costs one wake-up per event loop, not one per frame, and a
/// session's frames of one batch leave in one system call.
final class LoopOutbox: Sendable {
    let eventLoop: any EventLoop
    /// Work waiting for the loop; a drain is scheduled whenever this is not empty.
    private let waiting = Mutex<[LoopWork]>([])
    private let local: NIOLoopBound<LoopSessions>

    /// Makes the outbox of `eventLoop`; on that loop.
    init(eventLoop: any EventLoop, reports: any SessionReports, messagesOut: Counter) {
        self.eventLoop = eventLoop
        local = NIOLoopBound(LoopSessions(reports: reports, messagesOut: messagesOut), eventLoop: eventLoop)
    }

    /// The loop's sessions; on the loop only.
    var sessions: LoopSessions { local.value }

    /// Queues work for the loop's sessions; from any thread.
    func hand(_ work: LoopWork) {
        let first = waiting.withLock { waiting -> Bool in
            defer { waiting.append(work) }
            return waiting.isEmpty
        }
        if first { eventLoop.execute { self.drain() } }
    }

    private func drain() {
        local.value.apply(waiting.withLock { $0.take() })
    }
}
