/// The bounds of every user stream (offline-svc's settings): retention by count, age and bytes,
/// devices, subscriptions, sync pages.
public struct StreamPolicy: Sendable, Equatable {
    /// Entries kept per stream (`--stream-max-entries`).
    public var maxEntries: Int
    /// Entries older than this are trimmed (`--stream-retention`).
    public var retention: Duration
    /// Device cursors kept per user (`--max-devices`).
    public var maxDevices: Int
    /// Most entries in one sync page (`--sync-page-entries`).
    public var pageEntries: Int
    /// Most bytes of entry JSON in one sync page (`--sync-page-bytes`).
    public var pageBytes: Int
    /// Most sessions subscribed to one stream; subscribing one more drops the oldest-added
    /// (`--max-subscriptions`).
    public var maxSubscriptions: Int

    /// Most bytes of entry JSON kept per stream (`--stream-max-bytes`); the oldest go first.
    public var maxBytes: Int

    /// Most entries trimmed by count in one step, so a lowered `--stream-max-entries` is
    /// reached over a few appends instead of one long script.
    public static let maxTrimmedPerStep = 1024
    /// Oldest entries one step looks at for the age bound.
    public static let agedLookedAtPerStep = 64
    /// Most entries an ack looks at for the receipts it produces.
    public static let maxAckedScanned = 1000

    public init(maxEntries: Int = 10_000, retention: Duration = .seconds(720 * 3600), maxDevices: Int = 16,
                pageEntries: Int = 200, pageBytes: Int = 256 * 1024, maxSubscriptions: Int = 64,
                maxBytes: Int = 4 * 1024 * 1024) {
        self.maxEntries = maxEntries
        self.retention = retention
        self.maxDevices = maxDevices
        self.pageEntries = pageEntries
        self.pageBytes = pageBytes
        self.maxSubscriptions = maxSubscriptions
        self.maxBytes = maxBytes
    }

    var retentionMilliseconds: Int64 {
        let (seconds, attoseconds) = retention.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
