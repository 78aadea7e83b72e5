import Synchronization

/// Client ids this edge accepted recently, per user, with the message id each got: a retry of
/// the same client id on this edge gets the same `msg` (relay-svc drops retries that reach it
/// through another edge).
final class RecentSends: Sendable {
    private struct Key: Hashable { let user: String; let clientID: String }
    private struct State {
        var ids: [Key: String] = [:]
        var order: [Key] = []
    }

    private let state = Mutex(State())
    private let limit: Int

    init(limit: Int = 100_000) { self.limit = limit }

    /// The message id for this (user, client id): the remembered one, or `make()`'s, remembered.
    func messageID(user: String, clientID: String, make: () -> String) -> (msg: String, retry: Bool) {
        state.withLock { state in
            let key = Key(user: user, clientID: clientID)
            if let known = state.ids[key] { return (known, true) }
            let msg = make()
            state.ids[key] = msg
            state.order.append(key)
            if state.order.count > 2 * limit {
                let dropped = state.order.count - limit
                for old in state.order[..<dropped] { state.ids[old] = nil }
                state.order.removeFirst(dropped)
            }
            return (msg, false)
        }
    }
}
