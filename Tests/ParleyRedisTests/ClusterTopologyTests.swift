@testable import ParleyRedis
import Testing

/// The pure parts of cluster mode: reading `CLUSTER SLOTS`, the redirects, the cluster URL.
@Suite("Redis Cluster slot map and redirects")
struct ClusterTopologyTests {
    private static func node(_ host: String, _ port: Int) -> RESPValue {
        .array([.bulk(Array(host.utf8)), .integer(Int64(port)), .bulk(Array("id-\(port)".utf8))])
    }

    @Test func clusterSlotsMapsEverySlotToItsPrimary() throws {
        let reply = RESPValue.array([
            .array([.integer(0), .integer(5460), Self.node("10.0.0.1", 7000), Self.node("10.0.0.4", 7003)]),
            .array([.integer(5461), .integer(10922), Self.node("", 7001)]),
            .array([.integer(10923), .integer(16383), Self.node("10.0.0.3", 7002)]),
        ])
        let topology = try ClusterTopology(slots: reply, queried: RedisEndpoint(host: "seed", port: 7001))
        #expect(topology.primary(of: RedisHashSlot(rawValue: 0)) == RedisEndpoint(host: "10.0.0.1", port: 7000))
        #expect(topology.primary(of: RedisHashSlot(rawValue: 5460)) == RedisEndpoint(host: "10.0.0.1", port: 7000))
        #expect(topology.primary(of: RedisHashSlot(rawValue: 5461)) == RedisEndpoint(host: "seed", port: 7001),
                "an empty host is the queried node's")
        #expect(topology.primary(of: RedisHashSlot(rawValue: 16383)) == RedisEndpoint(host: "10.0.0.3", port: 7002))
        #expect(topology.primaries.count == 3, "replicas are not primaries")
        #expect(topology.summary == "0-5460@10.0.0.1:7000 5461-10922@seed:7001 10923-16383@10.0.0.3:7002")

        let moved = topology.moving(RedisHashSlot(rawValue: 1), to: RedisEndpoint(host: "10.0.0.9", port: 7009))
        #expect(moved.primary(of: RedisHashSlot(rawValue: 1)) == RedisEndpoint(host: "10.0.0.9", port: 7009))
        #expect(moved.primary(of: RedisHashSlot(rawValue: 2)) == RedisEndpoint(host: "10.0.0.1", port: 7000))
    }

    @Test func unservedSlotsHaveNoPrimaryAndMalformedRepliesAreRefused() throws {
        let partial = RESPValue.array([.array([.integer(0), .integer(99), Self.node("h", 1)])])
        let topology = try ClusterTopology(slots: partial, queried: RedisEndpoint(host: "h", port: 1))
        #expect(topology.primary(of: RedisHashSlot(rawValue: 100)) == nil)
        #expect(topology.summary == "0-99@h:1")
        let queried = RedisEndpoint(host: "h", port: 1)
        #expect(throws: RedisError.self) { try ClusterTopology(slots: .array([]), queried: queried) }
        #expect(throws: RedisError.self) {
            try ClusterTopology(slots: .array([.array([.integer(9), .integer(3), Self.node("h", 1)])]), queried: queried)
        }
        #expect(throws: RedisError.self) { try ClusterTopology(slots: .status("OK"), queried: queried) }
    }

    @Test func redirectsAreReadFromErrorReplies() {
        #expect(ClusterRedirect(error: "MOVED 3999 127.0.0.1:6381")
                == .moved(RedisHashSlot(rawValue: 3999), RedisEndpoint(host: "127.0.0.1", port: 6381)))
        #expect(ClusterRedirect(error: "ASK 3999 [::1]:6381") == .ask(RedisEndpoint(host: "::1", port: 6381)))
        #expect(ClusterRedirect(error: "CLUSTERDOWN The cluster is down") == .unavailable)
        #expect(ClusterRedirect(error: "TRYAGAIN Multiple keys request during rehashing of slot") == .unavailable)
        #expect(ClusterRedirect(error: "READONLY You can't write against a read only replica.") == .unavailable)
        #expect(ClusterRedirect(error: "WRONGTYPE Operation against a key holding the wrong kind of value") == nil)
        #expect(ClusterRedirect(error: "MOVED 99999 h:1") == nil)
        #expect(ClusterRedirect(error: "MOVED 1 nohost") == nil)
    }

    @Test func clusterURLsListTheSeeds() throws {
        let config = try RedisConfiguration(url: "redis+cluster://u:p%40ss@n1:7000,n2,[::1]:7002")
        #expect(config.isCluster)
        #expect(config.clusterSeeds == [RedisEndpoint(host: "n1", port: 7000), RedisEndpoint(host: "n2", port: 6379),
                                        RedisEndpoint(host: "::1", port: 7002)])
        #expect(config.username == "u" && config.password == "p@ss")
        #expect(config.replicasToWait == 1, "cluster mode waits for a replica")
        #expect(config.description == "redis+cluster://u:***@n1:7000,n2:6379,[::1]:7002")
        #expect(try RedisConfiguration(url: "redis://h").replicasToWait == 0, "single-endpoint mode waits for none by default")
        #expect(try RedisConfiguration(url: "redis://h", replicasToWait: 2).replicasToWait == 2)

        for bad in ["redis+cluster://n1:7000,,n2", "redis+cluster://n1:7000/1", "redis+cluster://n1:0", "redis://h1:1,h2:2"] {
            #expect(throws: RedisError.self, "\(bad)") { try RedisConfiguration(url: bad) }
        }
    }
}
