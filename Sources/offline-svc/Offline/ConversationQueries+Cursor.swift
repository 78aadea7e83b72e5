import ParleyProtocol

/// Where a page of the conversation list ended: the last listed conversation and its score in
/// the user's `convs` ZSET (the `seq` of its latest entry). Its token, `<score>:<conv>`, is the
/// `next` of a `conversations` page; clients treat it as opaque.
///
/// The next page lists what sorts after it in the list's order (score descending, then conv
/// descending, as ZREVRANGEBYSCORE orders equal scores), so a conversation whose activity moves it
/// above the cursor while a client pages is not listed again; the client learns of that activity
/// from its stream.
struct ConversationListCursor: Sendable, Equatable {
    let score: UInt64
    let conv: String

    init(score: UInt64, conv: String) {
        self.score = score
        self.conv = conv
    }

    /// Reads a token; nil unless it is `<score>:<conv>` with a score of at most 2^53−1 and a well-formed conv.
    init?(token: String) {
        guard let colon = token.utf8.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let digits = token.utf8[..<colon], conv = String(token[token.index(after: colon)...])
        guard !digits.isEmpty, digits.count <= 16, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let score = UInt64(Substring(digits)), score <= ProtocolLimits.maxSequence, Conversation.isValid(conv) else { return nil }
        self.init(score: score, conv: conv)
    }

    var token: String { "\(score):\(conv)" }

    /// Whether the list shows an item with `score` and `conv` after the cursor.
    func listsAfter(score: UInt64, conv: String) -> Bool {
        score < self.score || (score == self.score && conv.utf8.lexicographicallyPrecedes(self.conv.utf8))
    }
}
