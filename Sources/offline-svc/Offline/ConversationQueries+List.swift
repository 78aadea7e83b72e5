import ParleyBackend
import ParleyProtocol
import ParleyRedis

/// A checked `conversations` query.
struct ConversationListRequest: Sendable, Equatable {
    let user: String
    let limit: Int
    /// The page starts after it; nil for the first page.
    let after: ConversationListCursor?

    init(_ query: QueryEnvelope) throws(ProtocolError) {
        limit = try ConversationQueries.pageLimit(query.limit)
        if let next = query.next {
            guard let cursor = ConversationListCursor(token: next) else { throw ProtocolError(.badRequest, "next is malformed") }
            after = cursor
        } else {
            after = nil
        }
        user = query.user
    }
}

/// A conversation of the user's list, with the user's cursors of it, as the list script reads them.
struct ListedConversation: Sendable, Equatable {
    let conv: String
    let score: UInt64
    /// `<cseq> <seq>` of the conversation's last message entry in the user's stream.
    let last: String?
    /// The user's read cseq.
    let read: String?
}

extension ConversationQueries {
    /// A page of the user's conversations, newest activity first, in two round trips: the list
    /// script on the `{user}` slot, then one pipeline reading each listed conversation's last
    /// message from its log and each listed group's title.
    func conversations(_ request: ConversationListRequest) async throws -> ConversationsPage {
        let keys = RedisKeys.StreamKeys(request.user)
        let listed = try await redis.send(Self.listScript.call(
            keys: [keys.conversations, keys.last, keys.read],
            arguments: [RedisArgument(request.limit + 1), RedisArgument(request.after.map { String($0.score) } ?? "")]))
        let candidates = listed.filter { request.after?.listsAfter(score: $0.score, conv: $0.conv) ?? true }.prefix(request.limit + 1)
        let page = Array(candidates.prefix(request.limit))

        let cseqs = page.map { lastCseq($0) }
        var pipeline = RedisPipeline()
        let reads = zip(page, cseqs).map { item, cseq in
            cseq == 0 ? nil : pipeline.add(ConversationLogReads.entry(conv: item.conv, cseq: cseq))
        }
        let titles = page.map { $0.conv.hasPrefix("g:") ? pipeline.add(GroupCommands.title(of: $0.conv)) : nil }
        let replies = try await redis.send(pipeline)

        var items: [ConversationSummary] = []
        var bytes = 0
        for (index, item) in page.enumerated() {
            let entry = try reads[index].flatMap { try replies[$0] }
            let size = entry?.fields["m"]?.count ?? 0
            if !items.isEmpty, bytes + size > Self.maxPageBytes {
                return ConversationsPage(items: items, next: cursor(page[index - 1]))
            }
            bytes += size
            items.append(summary(item, cseq: cseqs[index], title: try titles[index].flatMap { try replies[$0] },
                                 last: entry.flatMap { message($0, conv: item.conv, for: request.user) }))
        }
        return ConversationsPage(items: items, next: candidates.count > request.limit ? page.last.map(cursor) : nil)
    }

    private func cursor(_ item: ListedConversation) -> String {
        ConversationListCursor(score: item.score, conv: item.conv).token
    }

    private func summary(_ item: ListedConversation, cseq: UInt64, title: String?, last: ChatMessage?) -> ConversationSummary {
        let read = item.read.map { number($0, "read", of: item) } ?? 0
        let members = Conversation.directMembers(item.conv).map { $0 == $1 ? [$0] : [$0, $1] }
        return ConversationSummary(conv: item.conv, title: title, members: members, last: last, cseq: cseq, read: read,
                                   unread: cseq > read ? cseq - read : 0)
    }

    /// The cseq of the conversation's last message in the user's stream (0: none).
    private func lastCseq(_ item: ListedConversation) -> UInt64 {
        guard let last = item.last else { return 0 }
        return number(String(last.prefix { $0 != " " }), "last", of: item)
    }

    /// A cursor field's number; 0 (and a warning) for a malformed one, so one bad field does not
    /// fail every listing of the user's conversations.
    private func number(_ text: String, _ field: String, of item: ListedConversation) -> UInt64 {
        if let value = UInt64(text) { return value }
        logger.warning("malformed conversation cursor", metadata: [
            "parley.conv": "\(item.conv)", "parley.field": "\(field)", "parley.value": "\(text)"])
        return 0
    }

    /// Lists up to ARGV[1] conversations of the `convs` ZSET (KEYS[1]), newest first, below the
    /// score ARGV[2] ("" for the top), and every conversation AT that score (the caller drops
    /// the ones it listed already); then each one's `last` (KEYS[2]) and `read` (KEYS[3]) field.
    /// Reply: conv, score, last or nil, read or nil, … per conversation.
    static let listScript = RedisScript<[ListedConversation]>(keys: 3, """
        local listed
        if ARGV[2] == '' then
          listed = redis.call('ZREVRANGE', KEYS[1], 0, ARGV[1] - 1, 'WITHSCORES')
        else
          listed = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[2], 'WITHSCORES')
          local older = redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '-inf', 'WITHSCORES', 'LIMIT', 0, ARGV[1])
          for _, value in ipairs(older) do listed[#listed + 1] = value end
        end
        if #listed == 0 then return {} end
        local convs = {}
        for i = 1, #listed, 2 do convs[#convs + 1] = listed[i] end
        local last = redis.call('HMGET', KEYS[2], unpack(convs))
        local read = redis.call('HMGET', KEYS[3], unpack(convs))
        local reply = {}
        for i, conv in ipairs(convs) do
          reply[#reply + 1] = conv
          reply[#reply + 1] = listed[2 * i]
          reply[#reply + 1] = last[i]
          reply[#reply + 1] = read[i]
        end
        return reply
        """) { reply throws(RedisError) in
        let values = try reply.asArray()
        guard values.count % 4 == 0 else {
            throw RedisError(code: .protocol, message: "the list script returned \(values.count) values, not groups of 4")
        }
        var listed: [ListedConversation] = []
        for index in stride(from: 0, to: values.count, by: 4) {
            // Scores are seqs: integers below 2^53, exact in a double.
            guard let conv = try values[index].asString(), let score = try values[index + 1].asDouble(),
                  let seq = UInt64(exactly: score) else {
                throw RedisError(code: .protocol, message: "the list script returned a bad conversation or score")
            }
            listed.append(ListedConversation(conv: conv, score: seq, last: try values[index + 2].asString(),
                                             read: try values[index + 3].asString()))
        }
        return listed
    }
}
