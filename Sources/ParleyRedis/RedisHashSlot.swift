/// The Redis Cluster slot of a key: CRC16 (XMODEM) of the key's hash tag, modulo 16384.
///
/// The hash tag is the part between the first `{` and the first `}` after it, when that part is
/// not empty; otherwise the whole key. So `presence:{alice}` and `inbox:{alice}` share a slot,
/// and a script or multi-key command may touch both; a cluster refuses keys of different slots
/// in one command with CROSSSLOT.
public struct RedisHashSlot: Hashable, Sendable, CustomStringConvertible {
    /// Slots a cluster has: 0 ..< 16384.
    public static let count = 16384

    /// The slot number, 0 ..< 16384.
    public let rawValue: UInt16

    /// The slot of a key given as bytes.
    public init(key: some Collection<UInt8>) {
        rawValue = Self.crc16(Self.hashTag(of: Array(key))) % UInt16(Self.count)
    }

    /// The slot of a key.
    public init(key: String) { self.init(key: key.utf8) }

    /// A slot by number (below ``count``).
    init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The slot all `keys` share; nil when there are none or they span more than one.
    public static func shared(by keys: [String]) -> RedisHashSlot? {
        guard let first = keys.first.map(RedisHashSlot.init(key:)) else { return nil }
        return keys.dropFirst().allSatisfy { RedisHashSlot(key: $0) == first } ? first : nil
    }

    public var description: String { "\(rawValue)" }

    /// The bytes that are hashed: those between the first `{` and the next `}` if there are any, else the key.
    static func hashTag(of key: [UInt8]) -> ArraySlice<UInt8> {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")),
              let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")),
              close > open + 1
        else { return key[...] }
        return key[(open + 1)..<close]
    }

    /// CRC-16/XMODEM: polynomial 0x1021, initial value 0, no reflection ("123456789" → 0x31C3).
    static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        bytes.reduce(UInt16(0)) { crc, byte in (crc << 8) ^ table[Int((crc >> 8) ^ UInt16(byte))] }
    }

    private static let table: [UInt16] = (0..<256).map { index in
        (0..<8).reduce(UInt16(index) << 8) { crc, _ in crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
    }
}
