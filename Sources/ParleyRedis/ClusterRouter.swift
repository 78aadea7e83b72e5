import Logging
import Synchronization

/// The cluster mode of ``RedisClient``: a connection pool per primary, the slot map, and the
/// routing of each request to the primary that owns its key's slot.
///
/// - The map is loaded with `CLUSTER SLOTS` from any known primary or seed, on first use and
///   again after a `MOVED`, a connection error or a `CLUSTERDOWN`-like reply; concurrent
///   refreshes share one.
/// - A batch of requests is split by node; each node's share goes in one round trip on one of
///   its connections (so the requests of one slot keep their order), the shares run at the same
///   time, and the replies come back in request order.
/// - `MOVED` resends at once to the named node; `ASK` resends that request once, after `ASKING`,
///   to the named node. Connection errors and "cluster busy" replies (a failover in progress)
///   are retried with back-off, at most ``maxAttempts`` times (about 8 s in all), after a refresh.
///   Retrying after a connection error makes a request at-least-once, as in single-endpoint mode.
final class ClusterRouter: Sendable {
    private struct State {
        var topology: ClusterTopology?
        var pools: [RedisEndpoint: ConnectionPool] = [:]
        var refreshing: Task<ClusterTopology, any Error>?
        /// Counts refreshes, so a finished one clears only itself.
        var generation = 0
        var nextKeyless = 0
        var closed = false
    }

    /// Attempts per request: the first, then retries with back-off 50 ms, 100 ms … 1 s.
    static let maxAttempts = 12

    private let configuration: RedisConfiguration
    private let logger: Logger
    private let state = Mutex(State())

    init(configuration: RedisConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs `requests` on the primaries that own their slots and answers their replies in order
    /// (error replies included, as values). `wait` > 0 appends `WAIT wait` to every node's share
    /// and throws ``RedisError/Code/replication`` when a node's writes reached fewer replicas.
    ///
    /// A request added `after` earlier ones on other nodes is sent only once that one was
    /// answered: the pipeline then runs in waves (``waves(of:)``).
    func execute(_ requests: [RedisRequest], wait: Int) async throws -> [RESPValue] {
        guard requests.contains(where: { !$0.after.isEmpty }) else {
            return try await execute(requests, indices: Array(requests.indices), wait: wait)
        }
        var replies = [RESPValue](repeating: .null, count: requests.count)
        for wave in try await waves(of: requests) {
            for (index, reply) in zip(wave, try await execute(requests, indices: wave, wait: wait)) { replies[index] = reply }
        }
        return replies
    }

    /// The requests in waves, each sent when the one before was answered: a request goes in the
    /// wave of the request before it on its node (so one node's requests keep their order), or
    /// in the wave after the one it must follow when that one is on another node.
    private func waves(of requests: [RedisRequest]) async throws -> [[Int]] {
        let topology = try await currentTopology(refresh: false)
        var nodes: [RedisEndpoint?] = []
        var wave: [Int] = []
        var lastOnNode: [RedisEndpoint: Int] = [:]
        for request in requests {
            let node = route(request, in: topology)
            var number = node.flatMap { lastOnNode[$0] } ?? 0
            for earlier in request.after {
                number = max(number, wave[earlier] + (nodes[earlier] == node ? 0 : 1))
            }
            nodes.append(node)
            wave.append(number)
            if let node { lastOnNode[node] = number }
        }
        var waves = [[Int]](repeating: [], count: (wave.max() ?? 0) + 1)
        for (index, number) in wave.enumerated() { waves[number].append(index) }
        return waves
    }

    /// Runs the requests at `indices`; answers their replies in that order.
    private func execute(_ requests: [RedisRequest], indices: [Int], wait: Int) async throws -> [RESPValue] {
        var replies = [RESPValue?](repeating: nil, count: requests.count)
        var pending = indices
        var asked: [Int: RedisEndpoint] = [:]
        var lastFailure: RedisError?
        for attempt in 0..<Self.maxAttempts {
            if attempt > 0, lastFailure != nil {
                try await Task.sleep(for: .milliseconds(min(50 << (attempt - 1), 1000)))
            }
            let topology = try await currentTopology(refresh: lastFailure != nil)
            lastFailure = nil
            var shares: [(endpoint: RedisEndpoint, indices: [Int])] = []
            var next: [Int] = []
            for index in pending {
                guard let endpoint = asked[index] ?? route(requests[index], in: topology) else {
                    lastFailure = RedisError(code: .server, message: "CLUSTERDOWN no node serves the slot of \(requests[index].key ?? "")")
                    next.append(index)
                    continue
                }
                if let share = shares.firstIndex(where: { $0.endpoint == endpoint }) {
                    shares[share].indices.append(index)
                } else {
                    shares.append((endpoint, [index]))
                }
            }
            let results = await exchange(shares, requests: requests, asking: asked, wait: wait)
            var askedNext: [Int: RedisEndpoint] = [:]
            for (share, result) in zip(shares, results) {
                let shareReplies: [RESPValue]
                switch result {
                case .failure(let error) where error.code == .connection || error.code == .closed:
                    logger.info("redis cluster node unreachable, refreshing the slot map",
                                metadata: ["parley.redis.node": "\(share.endpoint)", "parley.redis.error": "\(error.message)"])
                    lastFailure = error
                    next += share.indices
                    continue
                case .failure(let error):
                    throw error
                case .success(let values):
                    shareReplies = values
                }
                for (index, reply) in zip(share.indices, shareReplies) {
                    switch reply.errorMessage.flatMap(ClusterRedirect.init(error:)) {
                    case .moved(let slot, let endpoint):
                        move(slot, to: endpoint)
                        next.append(index)
                    case .ask(let endpoint) where asked[index] == nil:
                        askedNext[index] = endpoint
                        next.append(index)
                    case .unavailable:
                        lastFailure = RedisError(code: .server, message: reply.errorMessage ?? "")
                        next.append(index)
                    case .ask, nil:
                        replies[index] = reply
                    }
                }
            }
            guard !next.isEmpty else { return indices.map { replies[$0] ?? .null } }
            pending = next.sorted()
            asked = askedNext
        }
        throw lastFailure ?? RedisError(code: .server, message: "redis cluster kept redirecting after \(Self.maxAttempts) attempts")
    }

    /// Closes every node's pool.
    func close() async {
        let pools = state.withLock { state -> [ConnectionPool] in
            state.closed = true
            return Array(state.pools.values)
        }
        for pool in pools { await pool.close() }
    }

    // MARK: - Routing

    /// The primary of the request's slot; a keyless request goes to the primaries in turn.
    private func route(_ request: RedisRequest, in topology: ClusterTopology) -> RedisEndpoint? {
        if let key = request.key { return topology.primary(of: RedisHashSlot(key: key)) }
        return state.withLock { state in
            state.nextKeyless &+= 1
            return topology.primaries[state.nextKeyless % topology.primaries.count]
        }
    }

    /// Follows a `MOVED` at once and reloads the whole map in the background (a failover or a
    /// resharding moves more than one slot).
    private func move(_ slot: RedisHashSlot, to endpoint: RedisEndpoint) {
        state.withLock { state in
            state.topology = state.topology?.moving(slot, to: endpoint)
            _ = startRefresh(&state)
        }
    }

    /// Sends each share on a connection of its node, all at once; one result per share.
    private func exchange(_ shares: [(endpoint: RedisEndpoint, indices: [Int])], requests: [RedisRequest],
                          asking: [Int: RedisEndpoint], wait: Int) async -> [Result<[RESPValue], RedisError>] {
        if shares.count == 1 {
            return [await exchange(shares[0].indices, on: shares[0].endpoint, requests: requests, asking: asking, wait: wait)]
        }
        return await withTaskGroup(of: (Int, Result<[RESPValue], RedisError>).self) { group in
            for (position, share) in shares.enumerated() {
                group.addTask {
                    (position, await self.exchange(share.indices, on: share.endpoint, requests: requests, asking: asking, wait: wait))
                }
            }
            var results = [Result<[RESPValue], RedisError>](repeating: .success([]), count: shares.count)
            for await (position, result) in group { results[position] = result }
            return results
        }
    }

    /// One round trip to `endpoint`: the requests at `indices` (an asked one after `ASKING`),
    /// then `WAIT` if wanted. Answers the requests' replies only.
    private func exchange(_ indices: [Int], on endpoint: RedisEndpoint, requests: [RedisRequest],
                          asking: [Int: RedisEndpoint], wait: Int) async -> Result<[RESPValue], RedisError> {
        var sent: [RedisRequest] = []
        var positions: [Int] = []
        for index in indices {
            if asking[index] != nil { sent.append(RedisRequest(arguments: ["ASKING"], script: nil)) }
            positions.append(sent.count)
            sent.append(requests[index])
        }
        if wait > 0 { sent.append(ReplicaWait.request(configuration, replicas: wait)) }
        do {
            let pool = try pool(for: endpoint)
            let connection = try await pool.lease()
            defer { pool.release(connection) }
            let replies = try await connection.exchange(sent)
            let answers = positions.map { replies[$0] }
            // A node that became a replica redirects every request and refuses WAIT: the requests
            // go again, with a WAIT of their own, where the redirects point.
            let redirected = answers.contains { $0.errorMessage.flatMap(ClusterRedirect.init(error:)) != nil }
            if wait > 0, let waited = replies.last, !(redirected && waited.errorMessage != nil) {
                try ReplicaWait.check(waited, wanted: wait, node: endpoint)
            }
            return .success(answers)
        } catch let error as RedisError {
            return .failure(error)
        } catch {
            return .failure(RedisError(code: .connection, message: "redis cluster node \(endpoint) failed", underlying: error))
        }
    }

    private func pool(for endpoint: RedisEndpoint) throws(RedisError) -> ConnectionPool {
        try state.withLock { state throws(RedisError) -> ConnectionPool in
            if state.closed { throw ConnectionPool.closedError }
            if let pool = state.pools[endpoint] { return pool }
            let pool = ConnectionPool(configuration: configuration.node(endpoint), logger: logger)
            state.pools[endpoint] = pool
            return pool
        }
    }

    // MARK: - The slot map

    /// A freshly loaded map.
    func reloadedTopology() async throws -> ClusterTopology { try await currentTopology(refresh: true) }

    /// The map, loading it when there is none or `refresh` asks for a new one.
    private func currentTopology(refresh: Bool) async throws -> ClusterTopology {
        enum Next { case ready(ClusterTopology), loading(Task<ClusterTopology, any Error>) }
        let next = try state.withLock { state throws(RedisError) -> Next in
            if state.closed { throw ConnectionPool.closedError }
            if !refresh, let topology = state.topology { return .ready(topology) }
            return .loading(startRefresh(&state))
        }
        switch next {
        case .ready(let topology): return topology
        case .loading(let task): return try await task.value
        }
    }

    /// The running refresh, or a new one. The task stores its map itself (under the lock, so
    /// only after `state.refreshing` names it), also when nobody awaits it.
    private func startRefresh(_ state: inout State) -> Task<ClusterTopology, any Error> {
        if let running = state.refreshing { return running }
        state.generation += 1
        let generation = state.generation
        let candidates = (state.topology?.primaries ?? []) + configuration.clusterSeeds
        let task = Task {
            let loaded: Result<ClusterTopology, any Error>
            do { loaded = .success(try await self.load(from: candidates)) } catch { loaded = .failure(error) }
            self.state.withLock { state in
                guard state.generation == generation else { return }
                state.refreshing = nil
                if case .success(let topology) = loaded { state.topology = topology }
            }
            return try loaded.get()
        }
        state.refreshing = task
        return task
    }

    /// Asks each candidate in turn for `CLUSTER SLOTS`; the first answer wins.
    private func load(from candidates: [RedisEndpoint]) async throws -> ClusterTopology {
        var failures: [String] = []
        var tried: Set<RedisEndpoint> = []
        for endpoint in candidates where tried.insert(endpoint).inserted {
            do {
                let pool = try pool(for: endpoint)
                let connection = try await pool.lease()
                defer { pool.release(connection) }
                let reply = try await connection.exchange([RedisRequest(arguments: ["CLUSTER", "SLOTS"], script: nil)])[0]
                if let failure = reply.errorMessage { throw RedisError(code: .server, message: failure) }
                let topology = try ClusterTopology(slots: reply, queried: endpoint)
                logger.debug("redis cluster slot map loaded", metadata: [
                    "parley.redis.node": "\(endpoint)", "parley.redis.primaries": "\(topology.primaries.map(\.description))",
                ])
                return topology
            } catch let error as RedisError where error.code != .closed {
                failures.append("\(endpoint): \(error.message)")
            }
        }
        throw RedisError(code: .connection, message: "no redis cluster node answered CLUSTER SLOTS (\(failures.joined(separator: "; ")))")
    }
}
