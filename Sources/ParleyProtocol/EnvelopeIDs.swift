// Ids in envelopes. Kafka records are written by Parley's own processes, but anyone with write
// access to a topic can produce one; an id that becomes a Redis key, a log line or another
// user's `from` must be well-formed whoever wrote it. An envelope table lists its ids with
// ``WireFields/id(_:_:_:)``, and a read of an envelope with a malformed id fails
// (``WireError/Code/invalidID``): every consumer drops it before acting on it.

/// What kind of id an envelope field holds.
enum EnvelopeID {
    /// An ``Identifier``: users, edges, sessions, message and op ids (the edge's UUIDs), epochs.
    case identifier
    /// A device: an ``Identifier`` or ``Device/legacy``.
    case device
    /// A conversation (``Conversation``).
    case conversation
    /// An ``Identifier`` or empty (a deliver envelope's `user` when it addresses the whole edge).
    case identifierOrEmpty

    func accepts(_ id: String) -> Bool {
        switch self {
        case .identifier: Identifier.isValid(id)
        case .device: id == Device.legacy || Identifier.isValid(id)
        case .conversation: Conversation.isValid(id)
        case .identifierOrEmpty: id.isEmpty || Identifier.isValid(id)
        }
    }
}

extension WireFields {
    /// A required id field.
    mutating func id(_ key: StaticString, _ value: inout String, _ kind: EnvelopeID = .identifier) {
        let seen = object.seen
        field(key, &value)
        check(key, since: seen) { kind.accepts(value) }
    }

    /// An optional id field.
    mutating func id(_ key: StaticString, _ value: inout String?, _ kind: EnvelopeID = .identifier) {
        let seen = object.seen
        field(key, &value)
        check(key, since: seen) { value.map(kind.accepts) ?? true }
    }

    /// A list of ids.
    mutating func id(_ key: StaticString, _ value: inout [String], default defaultValue: [String]? = nil) {
        let seen = object.seen
        if let defaultValue { field(key, &value, default: defaultValue, omittingDefault: true) } else { field(key, &value) }
        check(key, since: seen) { value.allSatisfy(Identifier.isValid) }
    }

    /// An optional list of ids.
    mutating func id(_ key: StaticString, _ value: inout [String]?) {
        let seen = object.seen
        field(key, &value)
        check(key, since: seen) { value?.allSatisfy(Identifier.isValid) ?? true }
    }

    /// Fails the read (or the `Codable` decoding, so both agree) when the id just read is
    /// malformed: in a read pass only when this field read a member (`seen` changed). The
    /// message names the field, never the value (which may be anything, a newline included).
    private mutating func check(_ key: StaticString, since seen: UInt64, _ wellFormed: () -> Bool) {
        // Built only for a failure: this runs for every id of every envelope read.
        func message() -> String { "\"\(key)\" is not a well-formed id" }
        switch object.pass {
        case .inOrder, .member:
            guard object.seen != seen, failure == nil, !wellFormed() else { return }
            fail(WireError(.invalidID, message(), at: reader.index))
        case .decode:
            guard coderError == nil, !wellFormed() else { return }
            coderError = DecodingError.dataCorrupted(.init(codingPath: [WireKey(key)], debugDescription: message()))
        case .finish, .write, .validate, .encode:
            return
        }
    }
}
