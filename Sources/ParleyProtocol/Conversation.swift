/// Conversation ids (`conv`). A direct conversation of two users is `dm:<a>:<b>` with the two
/// user ids in byte order, so both sides name it the same; a group is `g:<id>` (an
/// ``Identifier``). Every message belongs to exactly one conversation.
public enum Conversation {
    /// Longest conversation id: `dm:` and two 64-byte user ids.
    public static let maxLength = 3 + 2 * Identifier.maxLength + 1

    /// The direct conversation of `a` and `b` (either order). `a == b` is a user's notes to self.
    public static func direct(_ a: String, _ b: String) -> String {
        a.utf8.lexicographicallyPrecedes(b.utf8) || a == b ? "dm:\(a):\(b)" : "dm:\(b):\(a)"
    }

    /// The two users of a direct conversation id in canonical form, or nil.
    public static func directMembers(_ conv: String) -> (String, String)? {
        guard conv.hasPrefix("dm:") else { return nil }
        let parts = conv.utf8.dropFirst(3).split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard parts.count == 2, let a = String(parts[0]), let b = String(parts[1]),
              Identifier.isValid(a), Identifier.isValid(b), direct(a, b) == conv else { return nil }
        return (a, b)
    }

    /// Whether `conv` is a well-formed id: a canonical `dm:<a>:<b>` or `g:<identifier>`. For a dm
    /// the same as `directMembers(conv) != nil`, without making strings (every envelope read
    /// checks its conversation).
    public static func isValid(_ conv: String) -> Bool {
        let utf8 = conv.utf8
        if conv.hasPrefix("g:") { return Identifier.isValid(bytes: utf8.dropFirst(2)) }
        guard conv.hasPrefix("dm:") else { return false }
        let users = utf8.dropFirst(3)
        guard let colon = users.firstIndex(of: UInt8(ascii: ":")) else { return false }
        let a = users[..<colon], b = users[users.index(after: colon)...]
        return Identifier.isValid(bytes: a) && Identifier.isValid(bytes: b) && !b.lexicographicallyPrecedes(a)
    }

    /// Whether `user` is named by the direct conversation `conv` (false for groups and malformed ids).
    public static func names(_ conv: String, user: String) -> Bool {
        guard let (a, b) = directMembers(conv) else { return false }
        return a == user || b == user
    }

    /// The other member of a direct conversation, seen from `user` (`user` for notes to self).
    public static func peer(in conv: String, of user: String) -> String? {
        guard let (a, b) = directMembers(conv), a == user || b == user else { return nil }
        return a == user ? b : a
    }
}
