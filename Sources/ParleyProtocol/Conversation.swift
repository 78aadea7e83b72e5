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
        guard let (a, b) = directParts(conv) else { return nil }
        return (String(Substring(a)), String(Substring(b)))
    }

    /// Whether `conv` is a well-formed id: a canonical `dm:<a>:<b>` or `g:<identifier>`. Makes no
    /// strings: every envelope read checks its conversation.
    public static func isValid(_ conv: String) -> Bool {
        if conv.hasPrefix("g:") { return Identifier.isValid(bytes: conv.utf8.dropFirst(2)) }
        return directParts(conv) != nil
    }

    /// The two user ids of a canonical `dm:<a>:<b>` (both identifiers, `a` not after `b` in byte
    /// order), as views into `conv`; nil for anything else.
    private static func directParts(_ conv: String) -> (Substring.UTF8View, Substring.UTF8View)? {
        guard conv.hasPrefix("dm:") else { return nil }
        let users = conv.utf8.dropFirst(3)
        guard let colon = users.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let a = users[..<colon], b = users[users.index(after: colon)...]
        guard Identifier.isValid(bytes: a), Identifier.isValid(bytes: b), !b.lexicographicallyPrecedes(a) else { return nil }
        return (a, b)
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
