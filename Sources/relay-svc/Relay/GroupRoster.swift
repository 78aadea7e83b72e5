import ParleyBackend
import ParleyProtocol

/// A group's members hash as the conversation step left it: who the entry at each `cseq`
/// goes to. Recipients follow the membership intervals, not today's members, so a batch
/// routed again after a crash reaches the members of each entry's `cseq` again.
struct GroupRoster: Sendable, Equatable {
    struct Member: Sendable, Equatable {
        let user: String
        let record: GroupMemberRecord
    }

    /// Every user the hash holds (current and former members), by user id in byte order.
    let members: [Member]
    private let records: [String: GroupMemberRecord]

    init(_ records: [String: GroupMemberRecord]) {
        self.records = records
        members = records.map { Member(user: $0.key, record: $0.value) }.sorted { $0.user.utf8.lexicographicallyPrecedes($1.user.utf8) }
    }

    /// The roster of the script's flat reply (`user, value, user, value…`); nil if a value is not
    /// in ``GroupMemberRecord``'s format.
    init?(fields: [String]) {
        var records: [String: GroupMemberRecord] = [:]
        for index in stride(from: 0, to: fields.count - 1, by: 2) {
            guard let record = GroupMemberRecord(fields[index + 1]) else { return nil }
            records[fields[index]] = record
        }
        self.init(records)
    }

    /// The users the entry at `cseq` belongs to, by user id.
    func recipients(at cseq: UInt64) -> [String] {
        members.compactMap { $0.record.holds(cseq) ? $0.user : nil }
    }

    /// Whether `user` is a member now.
    func isMember(_ user: String) -> Bool { records[user]?.isMember ?? false }

    /// The users the change `operation` made at `cseq` changed, in the order it names them (a
    /// create's creator first): who joined at `cseq` for a create or an add, who left at `cseq`
    /// for a remove or a leave.
    func changed(by operation: GroupOperation, at cseq: UInt64) -> [String] {
        let named: [String], joined: Bool
        switch operation.action {
        case .create: (named, joined) = ([operation.by] + operation.members, true)
        case .add: (named, joined) = (operation.members, true)
        case .remove: (named, joined) = (operation.members, false)
        case .leave: (named, joined) = ([operation.by], false)
        }
        var seen: Set<String> = []
        return named.filter { user in
            guard seen.insert(user).inserted, let record = records[user] else { return false }
            return record.intervals.contains { joined ? $0.join == cseq : $0.leave == cseq }
        }
    }
}

extension StreamEntry.GroupEvent {
    /// The event of a change made by `action`.
    init(_ action: GroupOperation.Action) {
        switch action {
        case .create: self = .created
        case .add: self = .added
        case .remove: self = .removed
        case .leave: self = .left
        }
    }
}
