import Foundation

/// The JSON coders used for every frame and envelope, so all parts encode alike.
enum JSONCoding {
    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        if let writable = value as? any JSONWritable { return writable.json }
        // Encoding our own Codable types cannot fail (no floats that could be NaN, no custom encoders).
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return Array(try! encoder.encode(value))
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        if let readable = type as? any JSONReadable.Type {
            return try read(readable, from: bytes) as! T  // the cast cannot fail: `readable` is `T.self`
        }
        return try JSONDecoder().decode(type, from: Data(bytes))
    }

    /// Reads a ``JSONReadable`` type (no `Decodable` needed).
    static func read<T: JSONReadable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        if let value = try bytes.withContiguousStorageIfAvailable({ try JSONReader.read(type, from: $0) }) {
            return value
        }
        return try Array(bytes).withUnsafeBufferPointer { try JSONReader.read(type, from: $0) }
    }
}
