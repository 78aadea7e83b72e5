import Foundation
@testable import Offline
import ParleyBackend
import ParleyProtocol
import ParleyRedis
import Testing

/// offline-svc's `members`, `history` and `conversations` queries for groups, against the shared
/// test redis-server, with the group keys written as relay-svc writes them (``GroupFixture``).
@Suite("conversation queries in groups")
struct ConversationQueriesGroupTests {
    @Test("members: current members only, sorted by user id, 100 a page with next, roles, joins, read cursors and the title")
    func membersPages() async throws {
        let redis = try testRedis()
        let queries = ConversationQueries(redis: redis, logger: serviceLogger("queries"))
        let admin = uniqueID("a-admin")
        let group = GroupFixture(redis: redis, title: "two hundred and fifty", creator: admin)
        let others = (1...249).map { String(format: "m%03d-", $0) + admin }
        var records = [admin: member(1, role: .admin)]
        for (index, user) in others.enumerated() { records[user] = member(UInt64(1 + index % 3)) }
        // Removed ones are not listed: one out for good, one removed and added again (listed, joined at 9).
        let gone = "m500-\(admin)", back = others[10]
        records[gone] = record(.member, (1, 4))
        records[back] = record(.member, (1, 4), (9, nil))
        try await group.write(records, cseq: 9)
        _ = try await redis.send(.hset(group.keys.reads, [admin: "8", others[0]: "3", gone: "4"]))

        var pages: [MembersPage] = []
        var next: String?
        repeat {
            let answer = try await queries.answer(membersQuery(user: others[5], conv: group.conv, next: next))
            #expect(answer.sessions == ["s-\(others[5])"] && answer.error == nil)
            pages.append(try #require(answer.members))
            next = pages.last?.next
        } while next != nil && pages.count < 5

        let listed = pages.flatMap(\.members)
        #expect(pages.map(\.members.count) == [100, 100, 50])
        #expect(pages.map(\.next) == [listed[99].user, listed[199].user, nil])
        #expect(listed.map(\.user) == ([admin] + others).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(pages.allSatisfy { $0.conv == group.conv && $0.title == "two hundred and fifty" })
        let byUser = Dictionary(uniqueKeysWithValues: listed.map { ($0.user, $0) })
        #expect(byUser[admin] == GroupMemberInfo(user: admin, role: .admin, joined: 1, read: 8))
        #expect(byUser[others[0]] == GroupMemberInfo(user: others[0], role: .member, joined: 1, read: 3))
        #expect(byUser[others[1]] == GroupMemberInfo(user: others[1], role: .member, joined: 2, read: 0), "no cursor yet: 0")
        #expect(byUser[back]?.joined == 9 && byUser[gone] == nil)
        await redis.close()
    }

    @Test("members refuses removed users, strangers, dm conversations and malformed next tokens")
    func membersRefusals() async throws {
        let redis = try testRedis()
        let queries = ConversationQueries(redis: redis, logger: serviceLogger("queries"))
        let admin = uniqueID("admin"), removed = uniqueID("removed"), left = uniqueID("left")
        let group = GroupFixture(redis: redis, creator: admin)
        try await group.write([admin: member(1, role: .admin), removed: record(.member, (1, 3)), left: record(.admin, (1, 4))], cseq: 4)
        for user in [removed, left, uniqueID("stranger")] {
            let answer = try await queries.answer(membersQuery(user: user, conv: group.conv))
            #expect(answer.error?.code == .notMember && answer.members == nil, "\(user)")
        }
        let unknown = try await queries.answer(membersQuery(user: admin, conv: GroupFixture.newConv()))
        #expect(unknown.error?.code == .notMember, "a group that does not exist")
        for conv in [nil, Conversation.direct(admin, removed), "g:", "g:a b"] {
            let answer = try await queries.answer(membersQuery(user: admin, conv: conv))
            #expect(answer.error?.code == .badRequest, "\(String(describing: conv))")
        }
        let malformed = try await queries.answer(membersQuery(user: admin, conv: group.conv, next: "a b"))
        #expect(malformed.error?.code == .badRequest)
        let past = try await queries.answer(membersQuery(user: admin, conv: group.conv, next: "zzz"))
        #expect(past.members == MembersPage(conv: group.conv, title: group.title, members: [], next: nil))
        await redis.close()
    }

    @Test("history in a group starts at the member's latest join; removed members and strangers get not_member")
    func historyFromJoin() async throws {
        let redis = try testRedis()
        let queries = ConversationQueries(redis: redis, logger: serviceLogger("queries"))
        let admin = uniqueID("admin"), early = uniqueID("early"), late = uniqueID("late"), removed = uniqueID("removed")
        let rejoined = uniqueID("rejoined")
        let group = GroupFixture(redis: redis, creator: admin)
        // cseq 1 create; 2…5 messages; 6 late added; 7…9 messages; 10 removed out; 11 rejoined back (out since 3).
        for cseq in [2, 3, 4, 5, 7, 8, 9] as [UInt64] { try await group.log(from: cseq % 2 == 0 ? admin : early, cseq: cseq) }
        try await group.write([admin: member(1, role: .admin), early: member(1), late: member(6), removed: record(.member, (1, 10)),
                               rejoined: record(.member, (1, 3), (11, nil))], cseq: 11)
        try await group.log(from: late, cseq: 12)

        func cseqs(_ user: String, before: UInt64? = nil, limit: Int? = nil) async throws -> ([UInt64], Bool) {
            let answer = try await queries.answer(QueryEnvelope(kind: .history, user: user, device: "d", session: "s", edge: "e",
                                                                conv: group.conv, before: before, limit: limit))
            let page = try #require(answer.history, "\(String(describing: answer.error))")
            return (page.messages.compactMap(\.cseq), page.more)
        }
        #expect(try await cseqs(admin) == ([2, 3, 4, 5, 7, 8, 9, 12], false))
        #expect(try await cseqs(early, limit: 3) == ([8, 9, 12], true))
        #expect(try await cseqs(late) == ([7, 8, 9, 12], false), "an added member reads from its add on")
        #expect(try await cseqs(late, limit: 2) == ([9, 12], true))
        #expect(try await cseqs(late, before: 9, limit: 2) == ([7, 8], false), "no more: what precedes the add is not theirs")
        #expect(try await cseqs(late, before: 7) == ([], false))
        #expect(try await cseqs(rejoined) == ([12], false), "from the latest join: nothing of the time out")
        for user in [removed, uniqueID("stranger")] {
            let answer = try await queries.answer(QueryEnvelope(kind: .history, user: user, device: "d", session: "s", edge: "e",
                                                                conv: group.conv))
            #expect(answer.error?.code == .notMember && answer.history == nil, "\(user)")
        }
        await redis.close()
    }

    @Test("conversations give groups their titles (dm ones their members) and count a group's unread from the join")
    func conversationTitles() async throws {
        let redis = try testRedis()
        let queries = ConversationQueries(redis: redis, logger: serviceLogger("queries"))
        let stream = try StreamFixture("carla")
        let ann = uniqueID("ann")
        let team = GroupFixture(redis: redis, title: "Team ☕", creator: ann), quiet = GroupFixture(redis: redis, title: "quiet", creator: ann)
        try await team.write([ann: member(1, role: .admin), stream.user: member(4)], cseq: 6)
        try await quiet.write([ann: member(1, role: .admin), stream.user: member(1)], cseq: 1)
        let last = try await team.log(from: ann, cseq: 6)
        let dm = try await loggedMessages(from: ann, to: stream.user, count: 1, redis: redis)
        try await stream.append(dm + [quiet.entry(.created, cseq: 1, by: ann, members: [stream.user]),
                                      team.entry(.added, cseq: 4, by: ann, members: [stream.user]), .message(last)])

        let answer = try await queries.answer(QueryEnvelope(kind: .conversations, user: stream.user, device: "d", session: "s", edge: "e"))
        let page = try #require(answer.conversations)
        #expect(page.items.map(\.conv) == [team.conv, quiet.conv, dm[0].conv])
        var seen = last
        seen.id = nil
        #expect(page.items[0] == ConversationSummary(conv: team.conv, title: "Team ☕", last: seen, cseq: 6, read: 4, unread: 2))
        #expect(page.items[1] == ConversationSummary(conv: quiet.conv, title: "quiet", last: nil, cseq: 0, read: 1, unread: 0))
        #expect(page.items[2].title == nil && page.items[2].members?.count == 2)
        try await stream.clear()
        await redis.close()
    }
}

private func membersQuery(user: String, conv: String?, next: String? = nil) -> QueryEnvelope {
    QueryEnvelope(kind: .members, user: user, device: "d1", session: "s-\(user)", edge: "e1", conv: conv, next: next)
}
