/// The ids Parley takes from outside (users, edges, and devices in v2): 1–64 characters of
/// `[A-Za-z0-9_.-]`, safe inside Redis keys, topic names and log lines.
public enum Identifier {
    public static let maxLength = 64

    /// Whether `id` is 1–64 characters of `[A-Za-z0-9_.-]`.
    public static func isValid(_ id: String) -> Bool {
        isValid(bytes: id.utf8)
    }

    /// Whether `bytes` are 1–64 characters of `[A-Za-z0-9_.-]` (a part of a larger id, unsplit).
    static func isValid(bytes: some Collection<UInt8>) -> Bool {
        guard !bytes.isEmpty, bytes.count <= maxLength else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }
}

/// Devices: a client names its own (`device=` on connect, an ``Identifier``).
public enum Device {
    /// The device of sessions that name none (v1 clients and the seed mode): not an
    /// ``Identifier``, so no client can name it; its cursor starts at the stream's first entry.
    public static let legacy = "~v1"
}
