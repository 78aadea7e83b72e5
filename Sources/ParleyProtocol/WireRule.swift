/// A limit one field of a client frame must keep, checked after the whole frame was read, in
/// the order of the frame's table.
struct WireRule<V> {
    let check: @Sendable (V, ProtocolLimits) -> ProtocolError?
    /// The field is the frame's client id: the frame's other errors carry it.
    var identifiesClient = false
}

extension WireRule where V == String {
    /// A client-chosen id: 1 to `maxClientIDBytes` bytes.
    static var clientID: WireRule {
        WireRule(check: { id, limits in
            guard id.isEmpty || id.utf8.count > limits.maxClientIDBytes else { return nil }
            return ProtocolError(.badRequest, "id must be 1-\(limits.maxClientIDBytes) bytes")
        }, identifiesClient: true)
    }

    /// A user to send to: an ``Identifier``.
    static var recipient: WireRule {
        WireRule { to, _ in
            Identifier.isValid(to) ? nil : ProtocolError(.invalidRecipient, "to must be 1-64 characters of A-Z a-z 0-9 _ . -")
        }
    }

    /// The user of a `block` or `unblock`: an ``Identifier``.
    static var blockedUser: WireRule {
        WireRule { user, _ in
            Identifier.isValid(user) ? nil : ProtocolError(.invalidRecipient, "user must be 1-64 characters of A-Z a-z 0-9 _ . -")
        }
    }

    /// A message body: not empty, at most `maxBodyBytes` bytes, no control characters but
    /// newline and tab (a NUL or an escape sequence must not reach another user's terminal or log).
    static var body: WireRule {
        WireRule { body, limits in
            if body.isEmpty { return ProtocolError(.badRequest, "body must not be empty") }
            if body.utf8.count > limits.maxBodyBytes { return ProtocolError(.tooLarge, "body is larger than \(limits.maxBodyBytes) bytes") }
            return ControlCharacters.contained(in: body) ? ProtocolError(.badRequest, "body must not contain control characters but newline and tab") : nil
        }
    }
}

extension WireRule where V == [String] {
    /// The message ids of an `ack`: 1 to `maxAckMessages` ``MessageID``s.
    static var messageIDs: WireRule {
        WireRule { msgs, limits in
            guard !msgs.isEmpty, msgs.count <= limits.maxAckMessages else {
                return ProtocolError(.badRequest, "ack takes 1-\(limits.maxAckMessages) message ids")
            }
            return msgs.allSatisfy(MessageID.isValid) ? nil : ProtocolError(.badRequest, "ack has a malformed message id")
        }
    }

    /// The users of a `watch`: at most `maxWatchUsers` ``Identifier``s.
    static var watchedUsers: WireRule {
        WireRule { users, limits in
            guard users.count <= limits.maxWatchUsers else {
                return ProtocolError(.tooLarge, "watch takes at most \(limits.maxWatchUsers) users")
            }
            return users.allSatisfy(Identifier.isValid) ? nil : ProtocolError(.invalidRecipient, "watch has an invalid user id")
        }
    }
}

extension WireRule where V == [String] {
    /// The users a `group_create` starts with: at most `maxGroupMembers` ``Identifier``s.
    static var initialMembers: WireRule { groupMembers(least: 0) }

    /// The users a `group_add` or `group_remove` names: 1 to `maxGroupMembers` ``Identifier``s.
    static var changedMembers: WireRule { groupMembers(least: 1) }

    private static func groupMembers(least: Int) -> WireRule {
        WireRule { users, limits in
            if users.count > limits.maxGroupMembers {
                return ProtocolError(.tooLarge, "members takes at most \(limits.maxGroupMembers) users")
            }
            if users.count < least { return ProtocolError(.badRequest, "members must name at least \(least) user") }
            return users.allSatisfy(Identifier.isValid) ? nil : ProtocolError(.invalidRecipient, "members has an invalid user id")
        }
    }
}

extension WireRule where V == String {
    /// A group's conversation id: `g:<id>`.
    static var group: WireRule {
        WireRule { conv, _ in
            conv.hasPrefix("g:") && Conversation.isValid(conv) ? nil : ProtocolError(.badRequest, "conv must be a group, g:<id>")
        }
    }

    /// A group title: 1 to `maxTitleBytes` bytes.
    static var title: WireRule {
        WireRule { title, limits in
            if title.isEmpty { return ProtocolError(.badRequest, "title must not be empty") }
            if title.utf8.count > limits.maxTitleBytes { return ProtocolError(.tooLarge, "title is larger than \(limits.maxTitleBytes) bytes") }
            return ControlCharacters.contained(in: title) ? ProtocolError(.badRequest, "title must not contain control characters but newline and tab") : nil
        }
    }

    /// A conversation id (``Conversation``).
    static var conversation: WireRule {
        WireRule { conv, _ in
            Conversation.isValid(conv) ? nil : ProtocolError(.badRequest, "conv must be dm:<a>:<b> (ids in order) or g:<id>")
        }
    }

    /// A stream epoch: 1–64 characters of an ``Identifier``.
    static var epoch: WireRule {
        WireRule { epoch, _ in Identifier.isValid(epoch) ? nil : ProtocolError(.badRequest, "epoch is malformed") }
    }

    /// An opaque paging cursor the server handed out: at most 256 bytes.
    static var pageCursor: WireRule {
        WireRule { next, _ in next.utf8.count <= 256 ? nil : ProtocolError(.badRequest, "next is malformed") }
    }
}

extension WireRule where V == UInt64 {
    /// A `seq` or `cseq`: at most ``ProtocolLimits/maxSequence``.
    static var sequence: WireRule {
        WireRule { n, _ in
            n <= ProtocolLimits.maxSequence ? nil : ProtocolError(.badRequest, "seq and cseq are at most 2^53-1")
        }
    }
}

extension WireRule where V == Int {
    /// The `limit` of a paged query: 1–``ProtocolLimits/maxPage``.
    static var pageLimit: WireRule {
        WireRule { limit, _ in
            (1...ProtocolLimits.maxPage).contains(limit) ? nil : ProtocolError(.badRequest, "limit must be 1-\(ProtocolLimits.maxPage)")
        }
    }
}

/// Control characters (Unicode Cc: C0, DEL, C1) in user text.
enum ControlCharacters {
    /// Whether `text` has one other than newline and tab.
    static func contained(in text: String) -> Bool {
        text.unicodeScalars.contains { scalar in
            (scalar.value < 0x20 && scalar != "\n" && scalar != "\t") || (0x7F...0x9F).contains(scalar.value)
        }
    }
}
