import Foundation
import ParleyBackend
import ParleyProtocol
import ParleyRedis
import Testing

// Group state as relay-svc writes it (groups.md): `conv:{c}:meta` (`n`, `e`, `title`, `by`,
// `count`), `conv:{c}:members` (user → GroupMemberRecord value) and the log (messages only), so
// offline-svc's tests set up groups without relay-svc.

/// One group on the shared test redis-server, written in relay-svc's format.
struct GroupFixture: Sendable {
    let redis: RedisClient
    let conv: String
    let title: String
    let creator: String

    /// A new group id (`g:` and a lowercase UUID, as the edge names groups).
    static func newConv() -> String { "g:" + UUID().uuidString.lowercased() }

    init(redis: RedisClient, title: String = "team", creator: String) {
        self.redis = redis
        conv = Self.newConv()
        self.title = title
        self.creator = creator
    }

    var keys: RedisKeys.ConversationKeys { RedisKeys.ConversationKeys(conv) }

    /// Writes the members hash and the meta (`n` = `cseq`, `count` = the current members).
    func write(_ records: [String: GroupMemberRecord], cseq: UInt64) async throws {
        var pipeline = RedisPipeline()
        pipeline.add(.del([keys.members]))
        pipeline.add(.hset(keys.members, records.mapValues(\.value)))
        pipeline.add(.hset(keys.meta, ["n": "\(cseq)", "e": "epoch-\(conv)", "title": title, "by": creator,
                                       "count": "\(records.values.filter(\.isMember).count)"]))
        _ = try await redis.send(pipeline)
    }

    /// Writes `message` (with its cseq) to the group's log as relay-svc does.
    @discardableResult
    func log(from: String, cseq: UInt64, body: String? = nil) async throws -> ChatMessage {
        let message = ChatMessage(msg: MessageID.make(), from: from, to: nil, conv: conv, cseq: cseq, body: body ?? "g\(cseq)",
                                  ts: UnixTime.nowMilliseconds, id: uniqueID("c"))
        _ = try await redis.send(logWrite(message))
        return message
    }

    /// The `group` entry relay-svc fans out for a change at `cseq`.
    func entry(_ event: StreamEntry.GroupEvent, cseq: UInt64, by: String, members: [String], op: String = MessageID.make()) -> StreamEntry {
        StreamEntry(kind: .group, msg: op, conv: conv, cseq: cseq, by: by, ts: UnixTime.nowMilliseconds, id: uniqueID("op"),
                    event: event, members: members, title: title)
    }

    /// The read cursors `offline-svc` mirrors for `members`.
    func reads() async throws -> [String: String] { try await redis.send(.hgetall(keys.reads)) }
}

/// A member since `join` (still in).
func member(_ join: UInt64, role: GroupMemberRecord.Role = .member) -> GroupMemberRecord {
    GroupMemberRecord(role: role, intervals: [.init(join: join)])
}

/// A record of the given intervals (`leave` nil: still in).
func record(_ role: GroupMemberRecord.Role = .member, _ intervals: (UInt64, UInt64?)...) -> GroupMemberRecord {
    GroupMemberRecord(role: role, intervals: intervals.map { .init(join: $0.0, leave: $0.1) })
}
