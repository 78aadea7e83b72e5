import ParleyProtocol

/// Where a query or cursor move came from: its answers go to `session` through
/// `chat.deliver.<edge>`, so both must be usable before anything is done for it.
enum Origin {
    /// Why the origin is unusable; nil when it is fine.
    static func problem(user: String, edge: String, session: String) -> String? {
        guard Identifier.isValid(user) else { return "user is not an identifier" }
        guard Identifier.isValid(edge) else { return "edge is not an identifier" }
        guard !session.isEmpty else { return "session is empty" }
        return nil
    }
}
