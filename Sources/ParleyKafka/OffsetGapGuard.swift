/// Makes sure a consumer hands out every offset of a partition, in order, without silently
/// skipping one.
///
/// Offsets in a partition without compaction or transactions (all of Parley's topics) are
/// contiguous, so a record whose offset is past the next expected one means the broker
/// answered a fetch with a later record batch before an earlier one was visible. Tansu 0.6 does
/// this under concurrent producers: measured, a consumer at the tail skipped one record in
/// about 30,000 that a second read from the beginning returned. Committing past such a record
/// loses it.
///
/// The guard drops the records after the gap and asks the consumer to seek back to the missing
/// offset, again every `reseekInterval` until it arrives. A gap that is still open after
/// `timeout` (a real hole, e.g. a transaction marker of a foreign producer) is accepted: the
/// guard then resumes at the lowest offset it saw past the hole.
struct OffsetGapGuard {
    /// What to do with a fetched record.
    enum Verdict: Equatable {
        /// Hand it to the application.
        case accept
        /// Already handed out (a re-fetch after a seek), or past a gap already open: drop it.
        case drop
        /// Past a new gap: drop it and seek the partition back to `offset`, the missing one.
        case seek(Int64)
    }

    /// A seek the consumer thread should make now.
    struct Seek: Equatable {
        let partition: TopicPartition
        let offset: Int64
        /// True when the gap timed out and the guard moved past it.
        let skipped: Bool
    }

    private struct Gap {
        let since: ContinuousClock.Instant
        var lastSeek: ContinuousClock.Instant
        var lowestAbove: Int64
    }

    let timeout: Duration
    let reseekInterval: Duration
    private var next: [TopicPartition: Int64] = [:]
    private var gaps: [TopicPartition: Gap] = [:]

    init(timeout: Duration, reseekInterval: Duration = .milliseconds(20)) {
        self.timeout = timeout
        self.reseekInterval = reseekInterval
    }

    /// True while some partition waits for a missing offset (the consumer thread then polls
    /// ``due(now:)`` often).
    var hasOpenGaps: Bool { !gaps.isEmpty }

    /// The next record of `partition` must have `offset` (a manual assignment's known start).
    mutating func expect(_ partition: TopicPartition, at offset: Int64) {
        next[partition] = offset
        gaps[partition] = nil
    }

    /// Forgets partitions whose assignment changed: their next record may legitimately start
    /// anywhere (e.g. back at the committed offset after a rebalance).
    mutating func forget(_ partitions: Set<TopicPartition>) {
        for partition in partitions {
            next[partition] = nil
            gaps[partition] = nil
        }
    }

    /// Judges a fetched record. The first record of a partition the guard knows nothing about
    /// is accepted and sets the expectation.
    mutating func admit(_ partition: TopicPartition, offset: Int64, now: ContinuousClock.Instant) -> Verdict {
        guard let expected = next[partition] else {
            next[partition] = offset + 1
            return .accept
        }
        if offset == expected {
            next[partition] = offset + 1
            gaps[partition] = nil
            return .accept
        }
        if offset < expected { return .drop }
        if var gap = gaps[partition] {
            gap.lowestAbove = min(gap.lowestAbove, offset)
            gaps[partition] = gap
            return .drop  // ``due(now:)`` seeks again
        }
        gaps[partition] = Gap(since: now, lastSeek: now, lowestAbove: offset)
        return .seek(expected)
    }

    /// Seeks due now: a gap not filled since the last seek is sought again after
    /// `reseekInterval`; a gap open for `timeout` is skipped (seek to the lowest offset seen
    /// past it, which the guard then expects).
    mutating func due(now: ContinuousClock.Instant) -> [Seek] {
        var seeks: [Seek] = []
        for (partition, var gap) in gaps {
            if now - gap.since >= timeout {
                gaps[partition] = nil
                next[partition] = gap.lowestAbove
                seeks.append(Seek(partition: partition, offset: gap.lowestAbove, skipped: true))
            } else if now - gap.lastSeek >= reseekInterval, let expected = next[partition] {
                gap.lastSeek = now
                gaps[partition] = gap
                seeks.append(Seek(partition: partition, offset: expected, skipped: false))
            }
        }
        return seeks
    }
}
