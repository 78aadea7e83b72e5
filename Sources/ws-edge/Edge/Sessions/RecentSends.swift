/// Client ids that one event loop's sessions sent recently, per user, with the message id each
/// got: a retry of the same client id on that loop (so on the same connection) gets the same
/// `msg` (relay-svc drops retries that reach it another way). Owned by the loop's
/// ``LoopSessions``, so it needs no lock.
struct RecentSends {
    private struct Key: Hashable { let user: String; let clientID: String }

    private var ids: [Key: String] = [:]
    private var order: [Key] = []
    private let limit: Int

    init(limit: Int = 100_000) { self.limit = limit }

    /// The message id for this (user, client id): the remembered one, or `make()`'s, remembered.
    mutating func messageID(user: String, clientID: String, make: () -> String) -> (msg: String, retry: Bool) {
        let key = Key(user: user, clientID: clientID)
        if let known = ids[key] { return (known, true) }
        let msg = make()
        ids[key] = msg
        order.append(key)
        // Forget the oldest half at once when over twice the limit (amortised O(1)).
        if order.count > 2 * limit {
            let dropped = order.count - limit
            for old in order[..<dropped] { ids[old] = nil }
            order.removeFirst(dropped)
        }
        return (msg, false)
    }
}
