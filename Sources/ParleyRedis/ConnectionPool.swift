import Logging
import Synchronization

/// Up to `size` connections, created lazily and handed to one caller at a time. Callers beyond
/// that wait, first come first served, as suspended tasks (no thread is blocked).
final class ConnectionPool: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<RedisConnection, any Error>
    }

    private struct State {
        var idle: [RedisConnection] = []
        var created = 0
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        var closed = false
    }

    private let size: Int
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let state = Mutex(State())

    init(configuration: RedisConfiguration, logger: Logger) {
        self.size = configuration.poolSize
        self.configuration = configuration
        self.logger = logger
    }

    private enum Grant {
        case connection(RedisConnection)
        case create(id: Int)
        case closed
        case cancelled
    }

    /// Takes this connection when one is free, a new one while fewer than `size` exist, else a
    /// place in the queue. Throws `.closed` after ``close()`` and `CancellationError` if the
    /// task is cancelled while waiting.
    func lease() async throws -> RedisConnection {
        let immediate: Grant? = state.withLock { state in grant(&state) }
        if let immediate { return try resolve(immediate) }

        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<RedisConnection, any Error>) in
                let now: Grant? = state.withLock { state in
                    // Things may have changed since the first look.
                    if let grant = grant(&state) { return grant }
                    if Task.isCancelled { return .cancelled }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let now { continuation.resume(with: Result { try resolve(now) }) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Gives a leased connection back: to the longest waiting caller, else to the idle list.
    /// After ``close()`` the connection is closed instead.
    func release(_ connection: RedisConnection) {
        enum Next { case waiter(Waiter), idle, close }
        let next = state.withLock { state -> Next in
            if state.closed { return .close }
            if !state.waiters.isEmpty { return .waiter(state.waiters.removeFirst()) }
            state.idle.append(connection)
            return .idle
        }
        switch next {
        case .waiter(let waiter): waiter.continuation.resume(returning: connection)
        case .idle: break
        case .close: connection.disconnect()
        }
    }

    /// Fails every waiter with `.closed`, closes idle connections, and makes leased ones close
    /// when they come back.
    func close() async {
        let (idle, waiters) = state.withLock { state -> ([RedisConnection], [Waiter]) in
            state.closed = true
            defer {
                state.idle = []
                state.waiters = []
            }
            return (state.idle, state.waiters)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: ConnectionPool.closedError) }
        for connection in idle {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in connection.disconnect { done.resume() } }
        }
    }

    static let closedError = RedisError(code: .closed, message: "the redis client is closed")

    private func grant(_ state: inout State) -> Grant? {
        if state.closed { return .closed }
        if let connection = state.idle.popLast() { return .connection(connection) }
        if state.created < size {
            state.created += 1
            return .create(id: state.created)
        }
        return nil
    }

    private func resolve(_ grant: Grant) throws -> RedisConnection {
        switch grant {
        case .connection(let connection): return connection
        case .create(let id): return RedisConnection(id: id, configuration: configuration, logger: logger)
        case .closed: throw ConnectionPool.closedError
        case .cancelled: throw CancellationError()
        }
    }
}
