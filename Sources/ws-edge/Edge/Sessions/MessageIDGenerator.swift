/// Message ids for the sends of one event loop: UUIDv7 strings laid out as ``MessageID`` makes
/// them (48-bit Unix milliseconds, a 12-bit counter that starts at a random value below 0x400
/// each millisecond, 62 random bits), but with the counter's state owned by the loop's
/// ``LoopSessions`` instead of a process-wide mutex, so a send takes no edge-wide lock. Ids of
/// one generator (so of one session) are strictly increasing; ids of different loops are told
/// apart by their random bits.
struct MessageIDGenerator {
    private var ms: UInt64 = 0
    private var counter: UInt16 = 0

    /// A new id for `unixMilliseconds` (never below an id this generator made before).
    mutating func make(unixMilliseconds: UInt64) -> String {
        if unixMilliseconds > ms {
            (ms, counter) = (unixMilliseconds, UInt16.random(in: 0..<0x400))
        } else if counter < 0xFFF {
            counter += 1
        } else {
            (ms, counter) = (ms + 1, 0)
        }
        var random = SystemRandomNumberGenerator()
        let tail: UInt64 = random.next()
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: ms >> (40 - 8 * UInt64(i))) }
        bytes[6] = 0x70 | UInt8(counter >> 8)
        bytes[7] = UInt8(truncatingIfNeeded: counter)
        for i in 8..<16 { bytes[i] = UInt8(truncatingIfNeeded: tail >> (8 * UInt64(i - 8))) }
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return Self.format(bytes)
    }

    private static let digits = Array("0123456789abcdef".utf8)

    private static func format(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: 36) { out in
            var n = 0
            for (i, byte) in bytes.enumerated() {
                if i == 4 || i == 6 || i == 8 || i == 10 {
                    out[n] = UInt8(ascii: "-")
                    n += 1
                }
                out[n] = digits[Int(byte >> 4)]
                out[n + 1] = digits[Int(byte & 0xF)]
                n += 2
            }
            return n
        }
    }
}
