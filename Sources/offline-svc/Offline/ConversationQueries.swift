import Logging
import ParleyBackend
import ParleyProtocol
import ParleyRedis

/// The read-only queries of `chat.queries` about conversations: `history` (a page of one
/// conversation's log), `conversations` (a page of the user's conversation list) and `members`
/// (a page of a group's current members); and `stream` (the server API's look at a stream). They write nothing, so answering a query again (a
/// replayed record) gives the same page for the same state.
///
/// Each answer is for the asking session only. A query that is malformed or names a conversation
/// the user is not a member of gets an `error` answer; Redis failures are thrown to the caller.
public struct ConversationQueries: Sendable {
    let redis: RedisClient
    let logger: Logger

    /// The `limit` of a query that names none.
    static let defaultLimit = 50
    /// Most bytes of stored message JSON in one answer. A page stops before it (and says `more`
    /// or `next`), so an answer stays far below a Kafka record's size limit even with 100 long,
    /// heavily escaped bodies; one message always fits.
    static let maxPageBytes = 256 * 1024

    public init(redis: RedisClient, logger: Logger) {
        self.redis = redis
        self.logger = logger
    }

    /// The answer for the query's session:
    /// `DeliverEnvelope(user:, sessions: [query.session], history: / conversations: / members: / error:)`.
    public func answer(_ query: QueryEnvelope) async throws -> DeliverEnvelope {
        var answer = DeliverEnvelope(user: query.user, sessions: [query.session])
        do {
            switch query.kind {
            case .history: answer.history = try await history(HistoryRequest(query))
            case .conversations: answer.conversations = try await conversations(ConversationListRequest(query))
            case .members: answer.members = try await members(MembersRequest(query))
            case .stream: answer.stream = try await streamState(of: query.user)
            case .sync, .unsubscribe: throw ProtocolError(.badRequest, "\(query.kind.rawValue) is not a conversation query")
            }
        } catch let refusal as ProtocolError {
            answer.error = refusal
        }
        return answer
    }

    /// The message a conversation log entry holds (field `m`), as `user` may see it: the sender's
    /// client `id` only on the user's own messages. nil (and a warning) for an entry that is not a
    /// message: the log's writer broke the contract, and the query answers without it.
    func message(_ entry: RedisStreamEntry, conv: String, for user: String) -> ChatMessage? {
        do {
            var message = try ConversationLogReads.message(in: entry)
            if message.from != user { message.id = nil }
            return message
        } catch {
            logMalformed(entry, conv: conv, "\(error)")
            return nil
        }
    }

    private func logMalformed(_ entry: RedisStreamEntry, conv: String, _ problem: String) {
        logger.warning("skipping malformed conversation log entry",
                       metadata: ["parley.conv": "\(conv)", "parley.entry": "\(entry.id)", "parley.error": "\(problem)"])
    }
}

extension ConversationQueries {
    /// The `limit` of a paged query: 1–``ProtocolLimits/maxPage``, ``defaultLimit`` when absent.
    static func pageLimit(_ limit: Int?) throws(ProtocolError) -> Int {
        let limit = limit ?? defaultLimit
        guard (1...ProtocolLimits.maxPage).contains(limit) else {
            throw ProtocolError(.badRequest, "limit must be 1-\(ProtocolLimits.maxPage)")
        }
        return limit
    }
}
