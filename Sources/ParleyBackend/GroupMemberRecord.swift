/// One member's record in a group's `members` hash (``RedisKeys/ConversationKeys/members``):
/// `"<role> <join>-<leave>,<join>-<leave>…"`, oldest interval first, `leave` 0 while the user
/// is a member. Membership changes take a `cseq` like messages; the entry at `cseq` c belongs to
/// the users whose interval holds c (both ends included: an added member gets its `added`
/// entry, a removed one its `removed` entry as its last). relay-svc's Lua writes this format;
/// everything that reads it uses this type.
public struct GroupMemberRecord: Sendable, Equatable {
    public enum Role: String, Sendable { case admin, member }

    public struct Interval: Sendable, Equatable {
        public var join: UInt64
        /// nil while the user is a member.
        public var leave: UInt64?

        public init(join: UInt64, leave: UInt64? = nil) {
            self.join = join
            self.leave = leave
        }

        public func holds(_ cseq: UInt64) -> Bool { join <= cseq && cseq <= (leave ?? .max) }
    }

    public var role: Role
    public var intervals: [Interval]

    public init(role: Role, intervals: [Interval]) {
        self.role = role
        self.intervals = intervals
    }

    /// Reads the hash value; nil if it is not in the format.
    public init?(_ value: String) {
        let parts = value.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, let role = Role(rawValue: String(parts[0])) else { return nil }
        var intervals: [Interval] = []
        for span in parts[1].split(separator: ",", omittingEmptySubsequences: false) {
            let ends = span.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count == 2, let join = UInt64(ends[0]), let leave = UInt64(ends[1]), join > 0,
                  leave == 0 || leave >= join else { return nil }
            intervals.append(Interval(join: join, leave: leave == 0 ? nil : leave))
        }
        guard !intervals.isEmpty else { return nil }
        self.init(role: role, intervals: intervals)
    }

    /// The hash value.
    public var value: String {
        role.rawValue + " " + intervals.map { "\($0.join)-\($0.leave ?? 0)" }.joined(separator: ",")
    }

    /// Whether the user is a member now.
    public var isMember: Bool { intervals.last?.leave == nil }

    /// The `cseq` of the user's latest join.
    public var joined: UInt64 { intervals.last?.join ?? 0 }

    /// Whether the entry at `cseq` belongs to this user.
    public func holds(_ cseq: UInt64) -> Bool { intervals.contains { $0.holds(cseq) } }
}
