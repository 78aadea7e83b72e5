import ParleyBackend
import ParleyProtocol
import ParleyRedis

/// A checked `history` query.
struct HistoryRequest: Sendable, Equatable {
    let user: String
    let conv: String
    /// Only messages below this `cseq`; nil for the newest.
    let before: UInt64?
    let limit: Int

    init(_ query: QueryEnvelope) throws(ProtocolError) {
        guard let conv = query.conv, Conversation.isValid(conv) else { throw ProtocolError(.badRequest, "conv is malformed") }
        if let before = query.before, before > ProtocolLimits.maxSequence {
            throw ProtocolError(.badRequest, "before is at most 2^53-1")
        }
        limit = try ConversationQueries.pageLimit(query.limit)
        // A group's membership is in its members hash (``ConversationQueries/history(_:)`` reads it).
        guard conv.hasPrefix("g:") || Conversation.names(conv, user: query.user) else {
            throw ProtocolError(.notMember, "not a member of \(conv)")
        }
        user = query.user
        self.conv = conv
        before = query.before
    }
}

extension ConversationQueries {
    /// The `limit` messages of the conversation log below `before`, oldest first: one XREVRANGE of
    /// `limit + 1` entries, the extra one only saying whether older messages exist.
    ///
    /// A group's history is for its current members, and starts at the member's latest join
    /// (one more round trip reads it): what was said before they joined was not said to them, and
    /// after a removal and a new add, what was said while they were out neither.
    func history(_ request: HistoryRequest) async throws -> HistoryPage {
        var start = RedisStreamBound.minimum
        if request.conv.hasPrefix("g:") {
            guard let record = try await redis.send(GroupCommands.member(request.user, of: request.conv)), record.isMember else {
                throw ProtocolError(.notMember, "not a member of \(request.conv)")
            }
            start = .inclusive(RedisStreamID(record.joined))
        }
        // Nothing precedes cseq 1 (and `(0-0` is no valid end of a range).
        guard request.before != 0 else { return HistoryPage(conv: request.conv, messages: [], more: false) }
        let end = request.before.map { RedisStreamBound.exclusive(RedisStreamID($0)) } ?? .maximum
        let log = RedisKeys.ConversationKeys(request.conv).log
        let newest = try await redis.send(.xrevrange(log, from: end, to: start, count: request.limit + 1))

        var messages: [ChatMessage] = []
        var bytes = 0
        var more = newest.count > request.limit
        for entry in newest.prefix(request.limit) {
            let size = entry.fields["m"]?.count ?? 0
            if !messages.isEmpty, bytes + size > Self.maxPageBytes {
                more = true
                break
            }
            bytes += size
            if let message = message(entry, conv: request.conv, for: request.user) { messages.append(message) }
        }
        return HistoryPage(conv: request.conv, messages: messages.reversed(), more: more)
    }
}
