@testable import ParleyRedis
import Testing

/// Commands, scripts and replies as values: no server.
@Suite("Redis command and script typing")
struct RedisTypingTests {
    @Test func aCommandKnowsWhatItSendsAndItsKeys() throws {
        let command = RedisCommand.setIfAbsent("dedup:{alice}:c1", "m1", expire: .milliseconds(1500))
        #expect(command.arguments.map(\.description) == ["SET", "dedup:{alice}:c1", "m1", "NX", "GET", "PX", "1500"])
        #expect(command.keys == ["dedup:{alice}:c1"])
        #expect(command.slot == RedisHashSlot(key: "alice"))
        #expect(RedisCommand.zrem("edges", ["e1", "e2"]).arguments.map(\.description) == ["ZREM", "edges", "e1", "e2"])
        #expect(RedisCommand.del(["a:{x}", "b:{x}"]).keys == ["a:{x}", "b:{x}"])
    }

    @Test func aCommandDecodesItsReply() throws {
        #expect(try decode(.get("k"), .bulk(Array("v".utf8))) == "v")
        #expect(try decode(.get("k"), .null) == nil)
        #expect(try decode(.set("k", "v", nx: true), .status("OK")) == true)
        #expect(try decode(.set("k", "v", nx: true), .null) == false)
        #expect(try decode(.ttl("k"), .integer(-2)) == nil)
        #expect(try decode(.ttl("k"), .integer(1500)) == .milliseconds(1500))
        #expect(try decode(.hgetall("k"), .array([.bulk(Array("s1".utf8)), .bulk(Array("e1".utf8))])) == ["s1": "e1"])
        #expect(try decode(.zrangeWithScores("k", 0, -1), .array([.bulk(Array("e".utf8)), .bulk(Array("1.5".utf8))]))
                == [RedisScoredMember(member: "e", score: 1.5)])
        #expect(try decode(.hmget("k", ["a", "b"]), .array([.null, .bulk([0, 1])])) == [nil, [0, 1]])
        #expect(try decode(RedisCommand.hlen("k").map { $0 > 0 }, .integer(2)) == true)
    }

    @Test func aReplyOfTheWrongShapeIsAProtocolError() {
        for (reply, command) in [(RESPValue.status("OK"), RedisCommand.hlen("k")), (.array([]), .incr("k")), (.null, .zcard("k"))] {
            #expect(throws: RedisError.self) { try decode(command, reply) }
            #expect((try? decode(command, reply)) == nil)
        }
        #expect(throws: RedisError.self) { try decode(.hgetall("k"), .array([.bulk([1])])) }
        #expect(throws: RedisError.self) { try decode(.zrange("k", 0, -1), .array([.null])) }
    }

    @Test("a script is called by EVALSHA of its SHA1 with its keys; its SHA1 is the one Redis computes")
    func scriptCalls() throws {
        // Redis' documentation: SCRIPT LOAD "return 1" answers this SHA1.
        let one = RedisScript(keys: 0, "return 1") { reply throws(RedisError) in try reply.asInteger() }
        #expect(one.sha1 == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
        let append = RedisScript(keys: 2, "return 0") { reply throws(RedisError) in try reply.asInteger() }
        let call = append.call(keys: ["a:{u}", "b:{u}"], arguments: ["x", RedisArgument(7)])
        #expect(call.arguments.map(\.description) == ["EVALSHA", append.sha1, "2", "a:{u}", "b:{u}", "x", "7"])
        #expect(call.keys == ["a:{u}", "b:{u}"])
        #expect(call.slot == RedisHashSlot(key: "u"))
        #expect(try decode(call, .integer(3)) == 3)
    }

    @Test("a script with any number of keys passes each call's own key count to EVALSHA")
    func scriptCallsWithAnyKeys() {
        let batch = RedisScript(anyKeys: "return #KEYS") { reply throws(RedisError) in try reply.asInteger() }
        #expect(batch.keyCount == nil)
        #expect(batch.call(keys: ["a:{u}"]).arguments.map(\.description) == ["EVALSHA", batch.sha1, "1", "a:{u}"])
        let three = batch.call(keys: ["a:{u}", "b:{u}", "c:{u}"], arguments: ["x"])
        #expect(three.arguments.map(\.description) == ["EVALSHA", batch.sha1, "3", "a:{u}", "b:{u}", "c:{u}", "x"])
        #expect(three.slot == RedisHashSlot(key: "u"))
    }
}

/// What `command` makes of `reply`.
private func decode<Reply>(_ command: RedisCommand<Reply>, _ reply: RESPValue) throws -> Reply {
    try command.decode(reply)
}
