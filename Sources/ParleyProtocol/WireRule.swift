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

    /// A message body: not empty, at most `maxBodyBytes` bytes.
    static var body: WireRule {
        WireRule { body, limits in
            if body.isEmpty { return ProtocolError(.badRequest, "body must not be empty") }
            guard body.utf8.count > limits.maxBodyBytes else { return nil }
            return ProtocolError(.tooLarge, "body is larger than \(limits.maxBodyBytes) bytes")
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
