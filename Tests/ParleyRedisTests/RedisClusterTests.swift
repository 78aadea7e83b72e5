import ParleyRedis
import ParleyTestSupport
import Testing

/// The cluster mode of ``RedisClient`` against the real 6-node test cluster (scripts/test.sh's
/// cluster pass, `PARLEY_TEST_REDIS=cluster`). Each node is also reached alone, with a
/// single-endpoint client, to read what the cluster client did there.
/// Serialized: two tests count the cluster's redirects, and one of them causes some.
@Suite("Redis Cluster routing", .serialized, .enabled(if: TestEnvironment.redisIsCluster, "needs PARLEY_TEST_REDIS=cluster"))
struct RedisClusterTests {
    @Test func aPipelineOverManySlotsIsSplitByNodeWithoutRedirectsAndAnswersInOrder() async throws {
        let nodes = try await ClusterNodes.load()
        let movedBefore = try await nodes.errorCount("MOVED")
        try await withClient { redis async throws in
            let run = "test:split:\(UInt32.random(in: 0...UInt32.max)):"
            let keys = (0..<300).map { "\(run){\($0)}" }  // 300 hash tags: slots all over the cluster
            _ = try await redis.send(.get(keys[0]))  // loads the slot map
            var writes = RedisPipeline()
            for (index, key) in keys.enumerated() { writes.add(.set(key, "v\(index)")) }
            _ = try await redis.send(writes)
            var reads = RedisPipeline()
            let entries = keys.map { reads.add(.get($0)) }
            let replies = try await redis.send(reads)
            for (index, entry) in entries.enumerated() { #expect(try replies[entry] == "v\(index)") }
            #expect(try await nodes.primariesHoldingKeys(matching: run) == 3, "the keys spread over all three primaries")
        }
        #expect(try await nodes.errorCount("MOVED") == movedBefore, "every command went straight to its slot's primary")
    }

    @Test func aScriptRunsOnThePrimaryOfItsKeysSlot() async throws {
        let script = RedisScript(keys: 2, "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])") { reply throws(RedisError) in try reply.asInteger() }
        let nodes = try await ClusterNodes.load()
        let movedBefore = try await nodes.errorCount("MOVED")
        try await withClient { redis async throws in
            for tag in 0..<20 {
                let prefix = "test:{script-\(tag)-\(UInt32.random(in: 0...UInt32.max))}:"
                #expect(try await redis.send(script.call(keys: [prefix + "a", prefix + "n"], arguments: ["x"])) == 1)
                #expect(try await redis.send(.get(prefix + "a")) == "x")
            }
        }
        #expect(try await nodes.errorCount("MOVED") == movedBefore, "each script went straight to its slot's primary")
    }

    @Test func aMovedSlotIsFollowedAndAnAskDuringItsMigrationIsSentWithASKING() async throws {
        let nodes = try await ClusterNodes.load()
        try await withClient { redis async throws in
            let prefix = uniqueKeyPrefix("moving")
            let slot = RedisHashSlot(key: prefix)
            try await redis.send(.set(prefix + "old", "before"))  // the client now maps the slot to its owner
            let source = try nodes.primary(of: slot)
            let target = try #require(nodes.primaries.first { $0.id != source.id })

            // A failure mid-way must not leave the shared cluster's slot half migrated.
            do {
                try await migrate(slot, prefix: prefix, from: source, to: target, nodes: nodes, redis: redis)
            } catch {
                for node in [source, target] { _ = try? await node.run(["CLUSTER", "SETSLOT", RedisArgument(Int(slot.rawValue)), "STABLE"]) }
                throw error
            }
        }
    }

    private func migrate(_ slot: RedisHashSlot, prefix: String, from source: ClusterNodes.Node, to target: ClusterNodes.Node,
                         nodes: ClusterNodes, redis: RedisClient) async throws {
        try await target.run(["CLUSTER", "SETSLOT", RedisArgument(Int(slot.rawValue)), "IMPORTING", RedisArgument(source.id)])
        try await source.run(["CLUSTER", "SETSLOT", RedisArgument(Int(slot.rawValue)), "MIGRATING", RedisArgument(target.id)])
        // A key the source does not hold is answered with ASK: the client asks the target.
        let askBefore = try await source.errorCount("ASK")
        try await redis.send(.set(prefix + "new", "during"))
        #expect(try await source.errorCount("ASK") == askBefore + 1, "the source did not hold it and sent the client on")

        try await source.run(["MIGRATE", "127.0.0.1", RedisArgument(target.port), "", "0", "5000", "KEYS", RedisArgument(prefix + "old")])
        for node in nodes.primaries {
            try await node.run(["CLUSTER", "SETSLOT", RedisArgument(Int(slot.rawValue)), "NODE", RedisArgument(target.id)])
        }
        let movedBefore = try await source.errorCount("MOVED")
        #expect(try await redis.send(.get(prefix + "old")) == "before", "followed MOVED to the target")
        #expect(try await source.errorCount("MOVED") == movedBefore + 1)
        #expect(try await redis.send(.get(prefix + "new")) == "during")
        #expect(try await target.run(["EXISTS", RedisArgument(prefix + "new")]) == .integer(1), "written on the target")
        #expect(try await source.errorCount("MOVED") == movedBefore + 1, "the map now sends the slot to the target")
    }

    @Test func aDurableSendWaitsForAReplicaOnEveryPrimaryItWroteTo() async throws {
        let nodes = try await ClusterNodes.load()
        let waitsBefore = try await nodes.commandCalls("wait")
        try await withClient { redis async throws in
            #expect(redis.configuration.replicasToWait == 1, "cluster mode waits for one replica")
            var pipeline = RedisPipeline()
            let run = "test:durable:\(UInt32.random(in: 0...UInt32.max)):"
            let keys = (0..<60).map { "\(run){\($0)}" }
            let entries = keys.map { pipeline.add(.set($0, "x")) }
            let replies = try await redis.sendDurably(pipeline)
            for entry in entries { _ = try replies[entry] }
        }
        let waits = try await nodes.commandCalls("wait")
        #expect(waitsBefore.count == 3, "the three primaries")
        for (node, before) in waitsBefore { #expect(waits[node] == before + 1, "one WAIT on \(node)") }
    }

    @Test func tooFewReplicasFailADurableSendWithReplication() async throws {
        let configuration = try RedisConfiguration(
            host: "unused", clusterSeeds: try RedisConfiguration(url: TestEnvironment.redisURL).clusterSeeds,
            replicasToWait: 2, replicaTimeout: .milliseconds(100))
        let redis = RedisClient(configuration: configuration, logger: testLogger)
        var pipeline = RedisPipeline()
        pipeline.add(.set(uniqueKeyPrefix("short") + "k", "x"))
        let error = await redisError { _ = try await redis.sendDurably(pipeline) }
        await redis.close()
        #expect(error?.code == .replication, "each primary has one replica, not two")
    }
}

/// The cluster's primaries, each reached alone with a single-endpoint client.
struct ClusterNodes {
    struct Node {
        let id: String
        let port: Int
        let slots: [ClosedRange<Int>]

        /// Sends one command to this node only (no routing); throws on an error reply.
        @discardableResult
        func run(_ arguments: [RedisArgument]) async throws -> RESPValue {
            var reply: RESPValue = .null
            try await withClient(url: "redis://127.0.0.1:\(port)", poolSize: 1) { redis async throws in
                reply = try await redis.send(.raw(arguments))
            }
            return reply
        }

        /// `errorstat_<prefix>` of INFO errorstats: how many error replies of that kind this node sent.
        func errorCount(_ prefix: String) async throws -> Int {
            try await infoField(section: "errorstats", "errorstat_\(prefix):count=")
        }

        func infoField(section: String, _ field: String) async throws -> Int {
            let info = try await run(["INFO", RedisArgument(section)]).asString() ?? ""
            guard let line = info.split(separator: "\r\n").first(where: { $0.hasPrefix(field.split(separator: "=")[0]) }),
                  let start = line.range(of: field) else { return 0 }
            return Int(line[start.upperBound...].prefix { $0.isNumber }) ?? 0
        }
    }

    let primaries: [Node]

    static func load() async throws -> ClusterNodes {
        let seeds = try RedisConfiguration(url: TestEnvironment.redisURL).clusterSeeds
        var nodes: [String: (port: Int, slots: [ClosedRange<Int>])] = [:]
        let text = try await Node(id: "", port: seeds[0].port, slots: []).run(["CLUSTER", "NODES"]).asString() ?? ""
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 8, fields[2].contains("master"), !fields[2].contains("fail"),
                  let port = Int(fields[1].split(separator: "@")[0].split(separator: ":").last ?? "") else { continue }
            let slots = fields.dropFirst(8).compactMap { range -> ClosedRange<Int>? in
                let bounds = range.split(separator: "-").compactMap { Int($0) }
                return bounds.isEmpty ? nil : bounds[0]...bounds[bounds.count - 1]
            }
            if !slots.isEmpty { nodes[String(fields[0])] = (port, slots) }
        }
        return ClusterNodes(primaries: nodes.map { Node(id: $0.key, port: $0.value.port, slots: $0.value.slots) })
    }

    func primary(of slot: RedisHashSlot) throws -> Node {
        try #require(primaries.first { node in node.slots.contains { $0.contains(Int(slot.rawValue)) } })
    }

    /// The sum over the primaries of one error kind's count.
    func errorCount(_ prefix: String) async throws -> Int {
        var total = 0
        for node in primaries { total += try await node.errorCount(prefix) }
        return total
    }

    /// `cmdstat_<command>` calls per primary port.
    func commandCalls(_ command: String) async throws -> [Int: Int] {
        var calls: [Int: Int] = [:]
        for node in primaries { calls[node.port] = try await node.infoField(section: "commandstats", "cmdstat_\(command):calls=") }
        return calls
    }

    /// How many primaries hold at least one key matching `pattern`.
    func primariesHoldingKeys(matching pattern: String) async throws -> Int {
        var holding = 0
        for node in primaries {
            let reply = try await node.run(["SCAN", "0", "MATCH", RedisArgument(pattern + "*"), "COUNT", "100000"])
            if try !reply.asArray()[1].asArray().isEmpty { holding += 1 }
        }
        return holding
    }
}
