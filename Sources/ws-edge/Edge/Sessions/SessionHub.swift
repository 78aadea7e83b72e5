import Metrics
import NIOCore
import Synchronization

/// What the edge knows of its sessions across event loops: each loop's ``LoopOutbox`` (whose
/// ``LoopSessions`` hold the sessions themselves), how many sessions each user holds here (for
/// `--max-sessions-per-user`), and whether the edge still admits sessions. Its lock is taken when
/// a session opens or closes and once per broadcast, never per frame.
final class SessionHub: Sendable {
    /// Whether a session may open.
    enum Admission: Equatable {
        case admitted, tooManySessions, shuttingDown
    }

    private struct State {
        var outboxes: [ObjectIdentifier: LoopOutbox] = [:]
        var perUser: [String: Int] = [:]
        var count = 0
        var closing = false
        var emptyWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())
    private let maxSessionsPerUser: Int
    private let reports: any SessionReports
    private let metrics: EdgeMetrics
    private let active = Gauge(label: "parley_sessions_active")

    init(maxSessionsPerUser: Int, reports: any SessionReports, metrics: EdgeMetrics) {
        self.maxSessionsPerUser = maxSessionsPerUser
        self.reports = reports
        self.metrics = metrics
    }

    /// The outbox of `eventLoop`, made at its first session; on that loop.
    func outbox(for eventLoop: any EventLoop) -> LoopOutbox {
        state.withLock { state in
            let key = ObjectIdentifier(eventLoop)
            if let outbox = state.outboxes[key] { return outbox }
            let outbox = LoopOutbox(eventLoop: eventLoop, reports: reports, messagesOut: metrics.messagesOut)
            state.outboxes[key] = outbox
            return outbox
        }
    }

    /// Counts a session of `user` in, unless the user holds the most sessions allowed here or
    /// the edge is shutting down. An admitted session is ``release(user:)``d when it closes.
    func admit(user: String) -> Admission {
        let (admission, count) = state.withLock { state -> (Admission, Int) in
            guard !state.closing else { return (.shuttingDown, state.count) }
            let current = state.perUser[user, default: 0]
            guard current < maxSessionsPerUser else { return (.tooManySessions, state.count) }
            state.perUser[user] = current + 1
            state.count += 1
            return (.admitted, state.count)
        }
        active.record(count)
        return admission
    }

    /// Counts an admitted session of `user` out; the last one wakes ``waitUntilEmpty()``.
    func release(user: String) {
        let (count, waiters) = state.withLock { state -> (Int, [CheckedContinuation<Void, Never>]) in
            let current = state.perUser[user, default: 0]
            guard current > 0 else { return (state.count, []) }
            state.perUser[user] = current > 1 ? current - 1 : nil
            state.count -= 1
            guard state.count == 0 else { return (state.count, []) }
            defer { state.emptyWaiters = [:] }
            return (0, Array(state.emptyWaiters.values))
        }
        active.record(count)
        for waiter in waiters { waiter.resume() }
    }

    /// Hands `work` to every event loop that has sessions.
    func broadcast(_ work: LoopWork) {
        for outbox in state.withLock({ Array($0.outboxes.values) }) { outbox.hand(work) }
    }

    /// Admits no more sessions and closes the open ones with `reason`.
    func closeAll(_ reason: Session.CloseReason) {
        state.withLock { $0.closing = true }
        broadcast(.closeAll(reason))
    }

    /// Whether ``closeAll(_:)`` was called.
    var isClosing: Bool { state.withLock { $0.closing } }

    /// Open sessions.
    var count: Int { state.withLock { $0.count } }

    /// Returns once no session is open (at once when none is), or when the task is cancelled.
    func waitUntilEmpty() async {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    guard state.count > 0, !Task.isCancelled else { return true }
                    state.emptyWaiters[id] = waiter
                    return false
                }
                if now { waiter.resume() }
            }
        } onCancel: {
            state.withLock { $0.emptyWaiters.removeValue(forKey: id) }?.resume()
        }
    }
}
