/// Epoch ids of stored state (a user's stream, a conversation's log): a new one marks storage
/// that was made again, so readers of the old one start over instead of trusting its counters.
public enum StorageEpoch {
    /// A fresh epoch id: 128 random bits as 32 hex digits (an ``Identifier``).
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}
