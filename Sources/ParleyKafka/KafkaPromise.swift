import Synchronization

/// A value that one side fulfills once and any number of tasks await, without blocking a thread.
final class KafkaPromise<Value: Sendable>: Sendable {
    private enum State {
        case pending([CheckedContinuation<Value, any Error>])
        case done(Result<Value, KafkaError>)
    }

    private let state = Mutex<State>(.pending([]))

    /// Fulfills the promise; later calls are ignored.
    func fulfill(_ result: Result<Value, KafkaError>) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value, any Error>] in
            guard case .pending(let waiters) = state else { return [] }
            state = .done(result)
            return waiters
        }
        let untyped = result.mapError { $0 as any Error }
        for waiter in waiters { waiter.resume(with: untyped) }
    }

    var isFulfilled: Bool {
        state.withLock { if case .done = $0 { true } else { false } }
    }

    func value() async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<Value, KafkaError>? in
                switch state {
                case .pending(var waiters):
                    waiters.append(continuation)
                    state = .pending(waiters)
                    return nil
                case .done(let result):
                    return result
                }
            }
            if let ready { continuation.resume(with: ready.mapError { $0 as any Error }) }
        }
    }
}

/// Promises keyed by small integer ids, which travel through librdkafka as opaque pointers.
struct PromiseTable<Value: Sendable>: ~Copyable {
    private var nextID: UInt = 1
    private var entries: [UInt: KafkaPromise<Value>] = [:]

    init() {}

    mutating func register() -> (UInt, KafkaPromise<Value>) {
        let id = nextID
        nextID &+= 1
        if nextID == 0 { nextID = 1 }  // 0 would be a null opaque pointer
        let promise = KafkaPromise<Value>()
        entries[id] = promise
        return (id, promise)
    }

    mutating func remove(_ id: UInt) -> KafkaPromise<Value>? { entries.removeValue(forKey: id) }

    mutating func removeAll() -> [KafkaPromise<Value>] {
        defer { entries.removeAll() }
        return Array(entries.values)
    }

    var count: Int { entries.count }
}
