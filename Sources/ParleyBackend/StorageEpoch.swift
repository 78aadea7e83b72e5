import Synchronization

/// Epoch ids of stored state (a user's stream, a conversation's log): a new one marks storage
/// that was made again, so readers of the old one start over instead of trusting its counters.
public enum StorageEpoch {
    /// 64 random bits drawn once per process: with ``counter`` every epoch this process makes is
    /// new, and no two processes share a prefix.
    private static let prefix: String = {
        var generator = SystemRandomNumberGenerator()
        return hex(generator.next())
    }()
    private static let counter = Atomic<UInt64>(0)
    private static let digits = Array("0123456789abcdef".utf8)

    /// A fresh epoch id, 32 hex digits (an ``Identifier``): the process's random prefix and a
    /// counter. Unique, not secret (a client learns its stream's epoch anyway), and made without
    /// a system call: every stream and conversation step carries one in case it creates storage.
    public static func make() -> String {
        prefix + hex(counter.add(1, ordering: .relaxed).newValue)
    }

    /// `value` as 16 lowercase hex digits.
    static func hex(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { buffer in
            for index in 0..<16 {
                buffer[index] = digits[Int((value >> UInt64(60 - 4 * index)) & 0xf)]
            }
            return 16
        }
    }
}
