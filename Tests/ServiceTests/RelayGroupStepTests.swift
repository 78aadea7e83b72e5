import ParleyBackend
import ParleyProtocol
import ParleyRedis
import ParleyTestSupport
@testable import Relay
import Testing

/// relay-svc's conversation step for groups (the Lua script) against the shared redis-server:
/// the membership rules, the intervals it writes and the outcomes it answers.
@Suite("relay-svc group step")
struct RelayGroupStepTests {
    /// Runs one step for `operations` (all of `conv`).
    func step(_ redis: RedisClient, _ conv: String, _ operations: [ConversationOperation], maxMembers: Int = 1000,
              limited: [String] = []) async throws -> ConversationStepReply {
        try await redis.send(ConversationStep.call(conv: conv, operations: operations, epoch: "e1", now: UnixTime.nowMilliseconds,
                                                   dedupTTL: .seconds(60), retention: RelayConversationStepTests.year,
                                                   maxGroupMembers: maxMembers, limited: limited))
    }

    /// The outcomes of one step.
    func outcomes(_ redis: RedisClient, _ conv: String, _ operations: [ConversationOperation], maxMembers: Int = 1000,
                  limited: [String] = []) async throws -> [ConversationOutcome] {
        try await step(redis, conv, operations, maxMembers: maxMembers, limited: limited).outcomes
    }

    @Test("a create makes the creator admin and the named users members at cseq 1, once; the creator's create again (dedup key or not) answers cseq 1, another user's is forbidden")
    func create() async throws {
        try await withRedis { redis in
            let conv = newGroup(), alice = uniqueID("alice"), bob = uniqueID("bob"), carol = uniqueID("carol")
            let create = groupChange(.create, in: conv, by: alice, members: [bob, carol, bob, alice], title: "Team")
            let first = try await step(redis, conv, [.group(create)])
            #expect(first.outcomes == [.changed(cseq: 1, op: create.op, admin: nil, again: false)])
            #expect(first.title == "Team")
            #expect(first.roster?.recipients(at: 1) == [alice, bob, carol].sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            #expect(try await groupMembers(redis, conv) == [alice: "admin 1-0", bob: "member 1-0", carol: "member 1-0"])
            #expect(try await conversationMeta(redis, conv) == ["n": "1", "e": "e1", "by": alice, "title": "Team", "count": "3"])

            #expect(try await outcomes(redis, conv, [.group(create)]) == [.changed(cseq: 1, op: create.op, admin: nil, again: true)])
            let dedup = RedisKeys.ConversationKeys(conv).dedup(from: alice, clientID: create.id)
            #expect(try await redis.send(.del([dedup])) == 1)
            let retry = groupChange(.create, in: conv, by: alice, members: [bob, carol], title: "Team", id: create.id)
            #expect(try await outcomes(redis, conv, [.group(retry)]) == [.changed(cseq: 1, op: retry.op, admin: nil, again: true)])
            let stranger = groupChange(.create, in: conv, by: uniqueID("mallory"), members: [bob])
            #expect(try await outcomes(redis, conv, [.group(stranger)]) == [.refused(.forbidden)])
            #expect(try await conversationMeta(redis, conv)["n"] == "1", "nothing after the create took a cseq")
            #expect(try await groupMembers(redis, conv).count == 3)
        }
    }

    @Test("adds, removes and leaves take the next cseqs and write intervals; when the last admin leaves, the earliest joined member becomes admin")
    func membership() async throws {
        try await withRedis { redis in
            let conv = newGroup(), alice = uniqueID("alice"), bob = uniqueID("bob"), carol = uniqueID("carol")
            let changes = [
                groupChange(.create, in: conv, by: alice, members: [bob]),
                groupChange(.add, in: conv, by: alice, members: [carol, bob]),
                groupChange(.remove, in: conv, by: alice, members: [bob]),
                groupChange(.add, in: conv, by: alice, members: [bob]),
                groupChange(.leave, in: conv, by: alice),
            ]
            let reply = try await step(redis, conv, changes.map { .group($0) })
            #expect(reply.outcomes == [
                .changed(cseq: 1, op: changes[0].op, admin: nil, again: false), .changed(cseq: 2, op: changes[1].op, admin: nil, again: false),
                .changed(cseq: 3, op: changes[2].op, admin: nil, again: false), .changed(cseq: 4, op: changes[3].op, admin: nil, again: false),
                .changed(cseq: 5, op: changes[4].op, admin: carol, again: false),
            ])
            #expect(try await groupMembers(redis, conv) == [alice: "admin 1-5", bob: "member 1-3,4-0", carol: "admin 2-0"])
            #expect(try await conversationMeta(redis, conv)["count"] == "2")
            #expect(reply.roster == GroupRoster([alice: GroupMemberRecord("admin 1-5")!, bob: GroupMemberRecord("member 1-3,4-0")!,
                                                 carol: GroupMemberRecord("admin 2-0")!]), "the reply holds the members hash after the step")
            #expect(reply.roster.map { roster in changes.indices.map { roster.changed(by: changes[$0], at: UInt64($0 + 1)) } }
                    == [[alice, bob], [carol], [bob], [bob], [alice]])

            // The dedup key remembers the admin the leave made: a replay answers it again.
            #expect(try await outcomes(redis, conv, [.group(changes[4])])
                    == [.changed(cseq: 5, op: changes[4].op, admin: carol, again: true)])
            // An admin may remove an admin (itself included): ties in join go to the lowest user id.
            let (zed, amy) = (uniqueID("zed"), uniqueID("amy"))
            let add = groupChange(.add, in: conv, by: carol, members: [zed, amy])
            let removeAdmins = groupChange(.remove, in: conv, by: carol, members: [carol, bob])
            #expect(try await outcomes(redis, conv, [.group(add), .group(removeAdmins)]) == [
                .changed(cseq: 6, op: add.op, admin: nil, again: false), .changed(cseq: 7, op: removeAdmins.op, admin: amy, again: false),
            ])
            #expect(try await groupMembers(redis, conv)[amy] == "admin 6-0")
        }
    }

    @Test("changes by non-admins are forbidden, by non-members not_member, changes that change nothing bad_request; none takes a cseq")
    func refusals() async throws {
        try await withRedis { redis in
            let conv = newGroup(), alice = uniqueID("alice"), bob = uniqueID("bob"), carol = uniqueID("carol")
            _ = try await step(redis, conv, [.group(groupChange(.create, in: conv, by: alice, members: [bob]))])
            let reply = try await step(redis, conv, [
                .group(groupChange(.add, in: conv, by: bob, members: [carol])),
                .group(groupChange(.remove, in: conv, by: bob, members: [alice])),
                .group(groupChange(.add, in: conv, by: carol, members: [carol])),
                .group(groupChange(.leave, in: conv, by: carol)),
                .message(chatMessage(in: conv, from: carol, body: "let me in")),
                .group(groupChange(.add, in: conv, by: alice, members: [bob, alice])),
                .group(groupChange(.remove, in: conv, by: alice, members: [carol])),
            ])
            #expect(reply.outcomes == [.refused(.forbidden), .refused(.forbidden), .refused(.notMember), .refused(.notMember),
                                       .refused(.notMember), .refused(.badRequest), .refused(.badRequest)])
            #expect(try await conversationMeta(redis, conv)["n"] == "1")
            #expect(try await groupMembers(redis, conv) == [alice: "admin 1-0", bob: "member 1-0"])

            let nowhere = newGroup()
            #expect(try await outcomes(redis, nowhere, [.group(groupChange(.add, in: nowhere, by: alice, members: [bob]))])
                    == [.refused(.notMember)], "a group that does not exist has no members")
            let dm = Conversation.direct(alice, bob)
            #expect(try await outcomes(redis, dm, [.group(groupChange(.add, in: dm, by: alice, members: [carol]))])
                    == [.refused(.badRequest)], "a dm has no membership changes")
        }
    }

    @Test("a create or add over the most members is too_large; one that would add a user at the most groups is forbidden")
    func limits() async throws {
        try await withRedis { redis in
            let conv = newGroup(), alice = uniqueID("alice"), bob = uniqueID("bob"), carol = uniqueID("carol"), dave = uniqueID("dave")
            let big = groupChange(.create, in: conv, by: alice, members: [bob, carol, dave])
            let byLimited = groupChange(.create, in: conv, by: alice, members: [bob])
            let create = groupChange(.create, in: conv, by: alice, members: [bob, carol])
            let addOver = groupChange(.add, in: conv, by: alice, members: [dave])
            let addLimited = groupChange(.add, in: conv, by: alice, members: [dave, bob])
            let addAgain = groupChange(.add, in: conv, by: alice, members: [dave, bob])
            let results = [
                try await outcomes(redis, conv, [.group(big)], maxMembers: 3),
                try await outcomes(redis, conv, [.group(byLimited)], limited: [alice]),
                try await outcomes(redis, conv, [.group(create)], maxMembers: 3),
                try await outcomes(redis, conv, [.group(addOver)], maxMembers: 3),
                try await outcomes(redis, conv, [.group(addLimited)], limited: [dave, bob]),
                // bob is in this group already: not added, so his limit does not count.
                try await outcomes(redis, conv, [.group(addAgain)], maxMembers: 4, limited: [bob]),
            ]
            #expect(results == [
                [.refused(.tooLarge)], [.refused(.forbidden)], [.changed(cseq: 1, op: create.op, admin: nil, again: false)],
                [.refused(.tooLarge)], [.refused(.forbidden)], [.changed(cseq: 2, op: addAgain.op, admin: nil, again: false)],
            ])
        }
    }

    @Test("messages in a group are stored for current members in order with the changes; a dm's step reads no members")
    func messages() async throws {
        try await withRedis { redis in
            let conv = newGroup(), alice = uniqueID("alice"), bob = uniqueID("bob")
            let hello = chatMessage(in: conv, from: bob, body: "hello")
            let late = chatMessage(in: conv, from: bob, body: "still here?")
            let create = groupChange(.create, in: conv, by: alice, members: [bob])
            let remove = groupChange(.remove, in: conv, by: alice, members: [bob])
            let reply = try await step(redis, conv, [
                .message(chatMessage(in: conv, from: alice, body: "too early")), .group(create), .message(hello), .group(remove), .message(late),
            ])
            #expect(reply.outcomes == [.refused(.notMember), .changed(cseq: 1, op: create.op, admin: nil, again: false), .stored(cseq: 2),
                                       .changed(cseq: 3, op: remove.op, admin: nil, again: false), .refused(.notMember)])
            #expect(try await conversationLog(redis, conv).map(\.message) == [hello.stored(at: 2)], "the log holds messages only")

            let dm = Conversation.direct(alice, bob)
            let dmReply = try await step(redis, dm, [.message(chatMessage(in: dm, from: alice, body: "hi"))])
            #expect(dmReply.outcomes == [.stored(cseq: 1)])
            #expect(dmReply.roster == nil && dmReply.title == nil)
        }
    }
}
