import ParleyProtocol
import Synchronization

/// Per-user budgets for `chat.queries`, weighted by cost: a token bucket per user that refills
/// at `rate` units per second up to `burst`. `history` and `conversations` cost 1 + limit/25
/// (a full page of 100: 5), `members` 2, `sync` 1, `unsubscribe` nothing. A query the budget
/// cannot pay is answered `rate_limited` at once, without touching Redis, so a user looping
/// queries spends offline-svc's time on cheap refusals and another user's sync in the same
/// batch is answered as usual.
///
/// Syncs are charged but never refused: the edge needs every page to keep a session gap-free,
/// and it bounds syncs itself (one pull in flight per session, the sync window). A user's syncs
/// still use up the budget of their history queries.
///
/// The buckets live in offline-svc's memory: `chat.queries` is keyed by user, so one instance
/// sees all of a user's queries (after a rebalance the new owner starts with a full bucket).
final class QueryBudget: Sendable {
    /// Units per second and the most a bucket holds.
    struct Limits: Sendable, Equatable {
        var rate: Int
        var burst: Int
    }

    /// Users idle long enough to have a full bucket again are forgotten once this many are kept.
    static let pruneAbove = 10_000

    let limits: Limits
    private let state = Mutex(State())

    private struct State {
        var buckets: [String: Bucket] = [:]
        /// The next prune: twice what the last one kept (at least ``pruneAbove``), so many busy
        /// users cost one scan per doubling, not one per query.
        var pruneAt = QueryBudget.pruneAbove
    }

    private struct Bucket {
        var tokens: Double
        var at: ContinuousClock.Instant
    }

    init(limits: Limits) { self.limits = limits }

    /// What `query` costs.
    static func cost(of query: QueryEnvelope) -> Int {
        switch query.kind {
        case .history, .conversations: 1 + min(max(query.limit ?? ProtocolLimits.maxPage, 1), ProtocolLimits.maxPage) / 25
        case .members: 2
        case .sync, .stream: 1
        case .unsubscribe: 0
        }
    }

    /// Charges `query` to its user's bucket: the refusal to answer when it cannot pay, nil when
    /// it may go on (a sync always may).
    func charge(_ query: QueryEnvelope, now: ContinuousClock.Instant = .now) -> ProtocolError? {
        let cost = Double(Self.cost(of: query))
        guard cost > 0 else { return nil }
        let paid = state.withLock { state in
            if state.buckets.count > state.pruneAt {
                prune(&state.buckets, now: now)
                state.pruneAt = max(Self.pruneAbove, 2 * state.buckets.count)
            }
            var bucket = state.buckets[query.user].map { refilled($0, now: now) } ?? Bucket(tokens: Double(limits.burst), at: now)
            defer { state.buckets[query.user] = bucket }
            guard bucket.tokens >= cost else {
                if query.kind == .sync { bucket.tokens = 0 }
                return query.kind == .sync
            }
            bucket.tokens -= cost
            return true
        }
        return paid ? nil : ProtocolError(.rateLimited, "query limit: \(limits.rate) units per second, \(limits.burst) at once "
                                          + "(history and conversations cost 1 + limit/25, members 2, sync 1); retry later")
    }

    private func refilled(_ bucket: Bucket, now: ContinuousClock.Instant) -> Bucket {
        let elapsed = bucket.at.duration(to: now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Bucket(tokens: min(Double(limits.burst), bucket.tokens + seconds * Double(limits.rate)), at: now)
    }

    private func prune(_ buckets: inout [String: Bucket], now: ContinuousClock.Instant) {
        buckets = buckets.filter { refilled($0.value, now: now).tokens < Double(limits.burst) }
    }
}
