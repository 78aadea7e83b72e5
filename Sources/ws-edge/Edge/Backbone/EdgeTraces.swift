import ParleyServiceKit
import Synchronization
import Tracing

/// While tracing is on: the trace of the last traced batch delivered to each user on this edge,
/// so that user's next ack (and the receipt it causes) continues the message's trace. Bounded:
/// an ack takes its user's entry, and when ``capacity`` users are remembered (most of them
/// users who never acked) the map starts over, so new users' acks keep being traced.
final class EdgeTraces: Sendable {
    static let capacity = 10_000
    private let lastDelivered = Mutex<[String: ServiceContext]>([:])

    /// Notes that `user` was handed entries in the current span (the deliver batch's).
    func delivered(to users: some Sequence<String>) {
        guard ParleyTracing.isEnabled, let context = ServiceContext.current else { return }
        lastDelivered.withLock { last in
            for user in users {
                if last.count >= Self.capacity, last[user] == nil { last.removeAll(keepingCapacity: true) }
                last[user] = context
            }
        }
    }

    /// The trace of what `user` was last delivered, forgotten once taken.
    func take(_ user: String) -> ServiceContext? {
        guard ParleyTracing.isEnabled else { return nil }
        return lastDelivered.withLock { $0.removeValue(forKey: user) }
    }
}
