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
        let message = "\"\(key)\" is not a well-formed id"
        switch object.pass {
        case .inOrder, .member:
            guard object.seen != seen, failure == nil, !wellFormed() else { return }
            fail(WireError(.invalidID, message, at: reader.index))
        case .decode:
            guard coderError == nil, !wellFormed() else { return }
            coderError = DecodingError.dataCorrupted(.init(codingPath: [WireKey(key)], debugDescription: message))
        case .finish, .write, .validate, .encode:
            return
        }
    }
}

/// The items of a batch record (``EnvelopeBatch``): those that read, and why the others did not.
public struct BatchItems<Item: WireObject> {
    public var items: [Item]
    /// One error per item refused for a malformed id (``WireError/Code/invalidID``).
    public var refused: [WireError]
}

extension Envelope {
    /// Decodes a batch record. An item with a malformed id costs only that item: the items are
    /// then read one at a time (only then; a well-formed batch is read in one pass). Any other
    /// failure, of any item, throws, as ``decode(_:from:)`` does.
    public static func decodeBatch<Item: WireObject>(_ type: Item.Type, from bytes: some Collection<UInt8>) throws(WireError) -> BatchItems<Item> {
        do {
            return BatchItems(items: try decode(EnvelopeBatch<Item>.self, from: bytes).items, refused: [])
        } catch where error.code == .invalidID {
            var batch = BatchItems<Item>(items: [], refused: [])
            for item in try batchItems(bytes) {
                do {
                    batch.items.append(try decode(Item.self, from: item))
                } catch where error.code == .invalidID {
                    batch.refused.append(error)
                }
            }
            return batch
        }
    }

    /// The bytes of each item of a batch's `items`.
    private static func batchItems(_ bytes: some Collection<UInt8>) throws(WireError) -> [[UInt8]] {
        var items: [[UInt8]] = []
        try JSONReader.document(bytes) { (reader: inout JSONReader) throws(WireError) in
            try reader.enter(UInt8(ascii: "{"))
            var first = true
            while try reader.hasNext(UInt8(ascii: "}"), first: first) {
                first = false
                guard try reader.readKey() == "items" else {
                    try reader.skipValue()
                    continue
                }
                try reader.enter(UInt8(ascii: "["))
                var firstItem = true
                while try reader.hasNext(UInt8(ascii: "]"), first: firstItem) {
                    firstItem = false
                    items.append(try reader.skipValueKeepingBytes())
                }
            }
        }
        return items
    }
}
