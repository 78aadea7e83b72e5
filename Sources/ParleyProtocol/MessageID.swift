import Foundation
import Synchronization

/// Time-ordered message ids (UUIDv7, RFC 9562) as lowercase strings, so string order is time
/// order. Ids made by one process are strictly increasing, also within one millisecond.
public enum MessageID {
    /// Makes ids whose state (the last millisecond and its counter) the owner keeps: a process-wide
    /// one behind a mutex (``make(unixMilliseconds:)``), or one per event loop without a lock.
    /// Ids of one generator are strictly increasing; ids of different generators are told apart
    /// by their 62 random bits.
    public struct Generator: Sendable {
        private var ms: UInt64 = 0
        private var counter: UInt16 = 0

        public init() {}

        /// A new id for `unixMilliseconds` (never below an id this generator made before): 48-bit
        /// Unix milliseconds, a 12-bit counter that starts at a random value below 0x400 each
        /// millisecond, 62 random bits.
        public mutating func make(unixMilliseconds: UInt64) -> String {
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
            return MessageID.format(bytes)
        }
    }

    private static let shared = Mutex(Generator())

    /// A new id for the current time.
    public static func make() -> String { make(unixMilliseconds: UnixTime.nowMilliseconds) }

    /// A new id for `unixMilliseconds` from the process-wide generator (monotonic: never below
    /// an id made before).
    public static func make(unixMilliseconds: UInt64) -> String {
        shared.withLock { $0.make(unixMilliseconds: unixMilliseconds) }
    }

    /// The smallest id of `unixMilliseconds`: every id made at or after that time sorts at or above it.
    public static func lowerBound(unixMilliseconds: UInt64) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: unixMilliseconds >> (40 - 8 * UInt64(i))) }
        bytes[6] = 0x70
        bytes[8] = 0x80
        return format(bytes)
    }

    /// The time part of an id (its first 12 hex digits), or nil when `id` is not an id.
    public static func unixMilliseconds(of id: String) -> UInt64? {
        guard isValid(id) else { return nil }
        var ms: UInt64 = 0
        for (index, c) in id.utf8.enumerated() where index < 13 && index != 8 {
            ms = ms << 4 | UInt64(c <= 57 ? c - 48 : c - 87)
        }
        return ms
    }

    /// Whether `id` looks like an id this module makes (36 characters of lowercase hex and dashes).
    public static func isValid(_ id: String) -> Bool {
        let utf8 = Array(id.utf8)
        guard utf8.count == 36 else { return false }
        for (i, c) in utf8.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != UInt8(ascii: "-") { return false }
            } else if !((c >= 48 && c <= 57) || (c >= 97 && c <= 102)) {
                return false
            }
        }
        return true
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

/// Wall-clock time in Unix milliseconds, as on the wire (`ts`).
public enum UnixTime {
    public static var nowMilliseconds: UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1000 + UInt64(spec.tv_nsec) / 1_000_000
    }
}
