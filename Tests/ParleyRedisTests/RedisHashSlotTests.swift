import ParleyRedis
import ParleyTestSupport
import Testing

@Suite("Redis Cluster hash slots")
struct RedisHashSlotTests {
    @Test("the documented values: CRC16 of 123456789 and CLUSTER KEYSLOT examples")
    func documentedValues() {
        #expect(RedisHashSlot(key: "123456789").rawValue == 12739)  // CRC16/XMODEM check value 0x31C3
        #expect(RedisHashSlot(key: "somekey").rawValue == 11058)
        #expect(RedisHashSlot(key: "foo{hash_tag}").rawValue == 2515)
        #expect(RedisHashSlot(key: "bar{hash_tag}").rawValue == 2515)
    }

    @Test("hash tags: the first {…} with something inside decides, as the cluster specification says")
    func hashTags() {
        let slot = RedisHashSlot.init(key:) as (String) -> RedisHashSlot
        #expect(slot("{user1000}.following") == slot("{user1000}.followers"))
        #expect(slot("{user1000}.following") == slot("user1000"))
        #expect(slot("foo{}{bar}").rawValue == 8363, "an empty tag: the whole key is hashed")
        #expect(slot("foo{{bar}}zap") == slot("{bar"), "the tag is `{bar`")
        #expect(slot("foo{bar}{zap}") == slot("bar"), "only the first tag counts")
        #expect(slot("foo{bar") == RedisHashSlot(key: Array("foo{bar".utf8)), "no closing brace: the whole key")
        #expect(slot("presence:{alice}") == slot("inbox:{alice}"))
        #expect(slot("presence:{alice}").rawValue == 749)
    }

    @Test func sharedSlotOfSeveralKeys() {
        #expect(RedisHashSlot.shared(by: ["inbox:{bob}", "inboxmsg:{bob}", "presence:{bob}"]) == RedisHashSlot(key: "bob"))
        #expect(RedisHashSlot.shared(by: ["presence:{bob}", "edgesessions:{edge-1}"]) == nil)
        #expect(RedisHashSlot.shared(by: []) == nil)
        #expect(RedisCommand.del(["inbox:{bob}", "inboxmsg:{bob}"]).slot == RedisHashSlot(key: "bob"))
        #expect(RedisCommand.raw(["PING"]).slot == nil)
    }

    @Test("the slot function agrees with CLUSTER KEYSLOT of a redis-server in cluster mode")
    func agreesWithTheServer() async throws {
        // The cluster bus port defaults to port + 10000, which may not exist: name a free one.
        let server = try await ManagedServer.start(.redis, arguments: ["--cluster-enabled", "yes", "--cluster-port", "\(try freeLoopbackPort())"])
        defer { server.stop() }
        var keys = ["", "a", "{", "}", "{}", "{a}", "a{b}c{d}", "{{}}", "presence:{alice}", "edgesessions:{edge-7}",
                    "dedup:{bob}:c-1", "edges", "é{ü}", "x{}y{z}"]
        keys += (0..<200).map { _ in String((0..<Int.random(in: 1...24)).map { _ in "ab{}:-é0".randomElement()! }) }
        try await withClient(url: server.address) { redis async throws in
            for key in keys {
                let expected = try await redis.send(.raw(["CLUSTER", "KEYSLOT", RedisArgument(key)])).asInteger()
                #expect(Int(RedisHashSlot(key: key).rawValue) == expected, "key \(key)")
            }
        }
    }
}
