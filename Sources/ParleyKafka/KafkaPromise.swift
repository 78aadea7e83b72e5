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

/// What settles one entry of a ``PromiseTable``: a promise, or one record of a batch.
struct Settler<Value: Sendable>: Sendable {
    let fulfill: @Sendable (Result<Value, KafkaError>) -> Void
}

/// What waits for librdkafka's answers, keyed by small integer ids that travel through
/// librdkafka as opaque pointers.
struct PromiseTable<Value: Sendable>: ~Copyable {
    private var nextID: UInt = 1
    private var entries: [UInt: Settler<Value>] = [:]

    init() {}

    /// Registers a new promise.
    mutating func register() -> (UInt, KafkaPromise<Value>) {
        let promise = KafkaPromise<Value>()
        return (register(Settler(fulfill: promise.fulfill)), promise)
    }

    mutating func register(_ settler: Settler<Value>) -> UInt {
        let id = nextID
        nextID &+= 1
        if nextID == 0 { nextID = 1 }  // 0 would be a null opaque pointer
        entries[id] = settler
        return id
    }

    mutating func remove(_ id: UInt) -> Settler<Value>? { entries.removeValue(forKey: id) }

    mutating func removeAll() -> [Settler<Value>] {
        defer { entries.removeAll() }
        return Array(entries.values)
    }

    var count: Int { entries.count }
}

/// The deliveries of one batch of records, settled once, when the last of them is: by then
/// every record was acknowledged, or failed. One settlement per batch instead of one per record
/// keeps the hand-offs between the producer's thread and Swift tasks per batch.
final class BatchDeliveries: Sendable {
    typealias Outcome = Result<[KafkaDelivery], any Error>

    private struct State {
        var deliveries: [KafkaDelivery?] = []
        var failure: (any Error)?
        var unsettled = 0
        var sealed = false
        var outcome: Outcome?
        var waiters: [@Sendable (Outcome) -> Void] = []

        /// Settles the batch once it is sealed and nothing is unsettled (the first failure wins;
        /// an enqueue failure is recorded first): the outcome and who waits for it.
        mutating func settleIfDone() -> Settled? {
            guard sealed, unsettled == 0, outcome == nil else { return nil }
            let outcome: Outcome = failure.map { .failure($0) } ?? .success(deliveries.map { $0! })
            self.outcome = outcome
            defer { waiters.removeAll() }
            return Settled(outcome: outcome, waiters: waiters)
        }
    }

    private struct Settled {
        let outcome: Outcome
        let waiters: [@Sendable (Outcome) -> Void]

        func notify() { for waiter in waiters { waiter(outcome) } }
    }

    private let state = Mutex(State())

    /// Adds a record about to be enqueued; `settler` reports its delivery.
    func add() -> Settler<KafkaDelivery> {
        let index = state.withLock { state in
            state.deliveries.append(nil)
            state.unsettled += 1
            return state.deliveries.count - 1
        }
        return Settler { result in self.settle(index, result) }
    }

    /// Withdraws the last added record (librdkafka did not take it).
    func withdrawLast() {
        state.withLock { state in
            state.deliveries.removeLast()
            state.unsettled -= 1
        }
    }

    /// No more records will be added; `enqueueError` is why, if the batch stopped early.
    func seal(enqueueError: (any Error)?) {
        let settled = state.withLock { state in
            if let enqueueError { state.failure = enqueueError }
            state.sealed = true
            return state.settleIfDone()
        }
        settled?.notify()
    }

    /// Runs `body` once the batch is settled: at once if it is, else on the thread that settles it.
    func onSettled(_ body: @escaping @Sendable (Outcome) -> Void) {
        let outcome = state.withLock { state -> Outcome? in
            if state.outcome == nil { state.waiters.append(body) }
            return state.outcome
        }
        if let outcome { body(outcome) }
    }

    private func settle(_ index: Int, _ result: Result<KafkaDelivery, KafkaError>) {
        let settled = state.withLock { state in
            switch result {
            case .success(let delivery): state.deliveries[index] = delivery
            case .failure(let error): if state.failure == nil { state.failure = error }
            }
            state.unsettled -= 1
            return state.settleIfDone()
        }
        settled?.notify()
    }
}
