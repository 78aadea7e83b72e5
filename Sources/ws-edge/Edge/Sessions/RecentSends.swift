/// Client ids that this edge's sessions sent recently, per user, and what became of each send, so
/// a retry of the same client id on this edge (on any connection of the user) is produced at most
/// once: after `sent` it is answered with the same `sent` at once; while the first produce is in
/// flight it waits for that produce's answer; after `unavailable` it is produced again with the
/// same `msg`. (relay-svc drops retries that reach it another way.) Pure state; the edge keeps it
/// behind a lock (``EdgeContext/recentSends``). `Waiter` is whom an answer goes to.
struct RecentSends<Waiter> {
    /// What to do with a send.
    enum Claim {
        /// Produce it with this message id.
        case produce(msg: String)
        /// An earlier try of it is in flight; its answer will go to the waiter too.
        case wait
        /// It was sent already, as this message id.
        case sent(msg: String)
    }

    private struct Key: Hashable { let user: String; let clientID: String }

    private enum Entry {
        case inFlight(msg: String, waiters: [Waiter])
        case settled(msg: String, accepted: Bool)
    }

    private var entries: [Key: Entry] = [:]
    private var order: [Key] = []
    private let limit: Int

    init(limit: Int = 100_000) { self.limit = limit }

    /// Claims a send of (user, client id) by `waiter`; `make()` makes the message id of a first try.
    mutating func claim(user: String, clientID: String, waiter: Waiter, make: () -> String) -> Claim {
        let key = Key(user: user, clientID: clientID)
        switch entries[key] {
        case .inFlight(let msg, let waiters)?:
            entries[key] = .inFlight(msg: msg, waiters: waiters + [waiter])
            return .wait
        case .settled(let msg, true)?:
            return .sent(msg: msg)
        case .settled(let msg, false)?:
            entries[key] = .inFlight(msg: msg, waiters: [])
            return .produce(msg: msg)
        case nil:
            let msg = make()
            entries[key] = .inFlight(msg: msg, waiters: [])
            remember(key)
            return .produce(msg: msg)
        }
    }

    /// The produce of (user, client id) settled; returns the retries that wait for its answer.
    mutating func settle(user: String, clientID: String, accepted: Bool) -> [Waiter] {
        let key = Key(user: user, clientID: clientID)
        guard case .inFlight(let msg, let waiters)? = entries[key] else { return [] }
        entries[key] = .settled(msg: msg, accepted: accepted)
        return waiters
    }

    private mutating func remember(_ key: Key) {
        order.append(key)
        // Forget the oldest half at once when over twice the limit (amortised O(1)); a retry
        // waiting on a forgotten send is answered by its client's next retry.
        if order.count > 2 * limit {
            let dropped = order.count - limit
            for old in order[..<dropped] { entries[old] = nil }
            order.removeFirst(dropped)
        }
    }
}

/// A session whose retry of a send waits for the first try's produce to settle.
struct RetryWaiter: Sendable {
    let session: String
    let outbox: LoopOutbox
}
