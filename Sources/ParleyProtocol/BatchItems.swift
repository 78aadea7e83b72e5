// Reading batch records when one of their items has a malformed id (EnvelopeIDs.swift): the
// item is dropped, its neighbours are kept.

/// The items of a batch record (``EnvelopeBatch``): those that read, and why the others did not.
public struct BatchItems<Item: WireObject>: Sendable {
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
