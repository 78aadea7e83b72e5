/// Encoding and decoding of Kafka envelopes (and anything else with a ``WireObject`` table).
public enum Envelope {
    public static func encode<T: WireObject>(_ envelope: T) -> [UInt8] {
        var fields = WireFields(writingCapacity: initialCapacity)
        var envelope = envelope
        T.write(&envelope, &fields)
        return fields.writer.bytes
    }

    /// Decodes an envelope; throws on malformed input (the consumer logs and skips the record).
    public static func decode<T: WireObject>(_ type: T.Type, from bytes: some Collection<UInt8>) throws(WireError) -> T {
        var value: T?
        try JSONReader.document(bytes) { (reader: inout JSONReader) throws(WireError) in
            var fields = WireFields(reading: reader)
            value = T.read(&fields)
            reader = fields.reader
            if let failure = fields.failure { throw failure }
        }
        return value!  // without a failure, the read made a value
    }

    /// Encodes `items` as ``EnvelopeBatch`` values of at most about `maxBytes` each (a larger
    /// single item gets a batch of its own), in order. Each item is encoded once, and the
    /// batches are spliced from the items' bytes (the envelope tests check that a batch is
    /// byte for byte what `encode(EnvelopeBatch(items:))` writes).
    public static func encodeBatches<T: WireObject>(_ items: [T], maxBytes: Int) -> [[UInt8]] {
        let head = Array("{\"v\":\(envelopeVersion),\"items\":[".utf8)
        var batches: [[UInt8]] = []
        var current = head
        for item in items {
            let encoded = encode(item)
            if current.count > head.count, current.count + encoded.count + 2 > maxBytes {
                batches.append(current + Array("]}".utf8))
                current = head
            }
            if current.count > head.count { current.append(UInt8(ascii: ",")) }
            current += encoded
        }
        if current.count > head.count { batches.append(current + Array("]}".utf8)) }
        return batches
    }

    /// What a writer reserves: most envelopes fit without growing.
    private static var initialCapacity: Int { 512 }
}
