import NIOCore

/// When a session last had a `typing` signal forwarded, per conversation: at most one per
/// interval goes on (`--typing-interval`), extra ones are dropped. Part of its session, so
/// loop-bound like it.
struct TypingThrottle {
    private var forwarded: [String: NIODeadline] = [:]
    /// Past this many conversations, the ones whose interval is over are forgotten.
    private let pruneAt = 64

    /// Whether a signal for `conv` at `now` may go on (and, if so, notes it).
    mutating func allows(_ conv: String, now: NIODeadline, interval: TimeAmount) -> Bool {
        if let last = forwarded[conv], now - last < interval { return false }
        if forwarded.count >= pruneAt { forwarded = forwarded.filter { now - $0.value < interval } }
        forwarded[conv] = now
        return true
    }
}
