import NIOCore

/// v1's `ack{"msgs":[…]}` on a v2 stream: a v1 session names the messages it got, the stream's
/// cursor is a `seq`. The session notes every entry it forwarded (in `seq` order) and which of
/// them wait for an ack (messages from another user: the only ones a v1 client acks). The
/// cursor moves over the longest prefix of forwarded entries in which every such message was
/// acked; other entries are passed over (`ack([])` moves it over them alone).
///
/// Bounded: at most `limit` messages wait. One more means the client stopped acking; the
/// cursor then stays where it is for the rest of the session (never past an unacked message),
/// and what the session was sent comes again on its next connect.
///
/// Pure logic, owned by its session (loop-bound).
struct LegacyAcks {
    let limit: Int
    /// The highest `seq` the prefix reached (what was last acked for the session).
    private(set) var cursor: UInt64
    /// The highest `seq` forwarded.
    private var forwarded: UInt64
    /// Forwarded messages from others not yet behind the cursor, in `seq` order.
    private var waiting = CircularBuffer<(seq: UInt64, msg: String)>()
    /// The msg ids in `waiting`.
    private var waitingIDs: Set<String> = []
    /// Msg ids in `waiting` acked while an earlier one was not.
    private var ackedEarly: Set<String> = []
    /// More than `limit` messages waited: the cursor no longer moves.
    private(set) var overflowed = false

    /// Starts after `cursor` (the replay's start).
    init(cursor: UInt64, limit: Int) {
        self.limit = limit
        self.cursor = cursor
        forwarded = cursor
    }

    /// The session forwarded the entry at `seq`; `awaiting` is its msg id when it is a
    /// message from another user. Entries at or below one already noted are ignored.
    mutating func forwarded(seq: UInt64, awaiting msg: String?) {
        guard !overflowed, seq > forwarded else { return }
        forwarded = seq
        guard let msg else { return }
        guard waiting.count < limit else {
            overflowed = true
            waiting.removeAll()
            waitingIDs = []
            ackedEarly = []
            return
        }
        waiting.append((seq, msg))
        waitingIDs.insert(msg)
    }

    /// The client acked `msgs`; returns the new cursor when it moved.
    mutating func ack(_ msgs: some Sequence<String>) -> UInt64? {
        guard !overflowed else { return nil }
        for msg in msgs where waitingIDs.contains(msg) { ackedEarly.insert(msg) }
        while let first = waiting.first, ackedEarly.remove(first.msg) != nil {
            waiting.removeFirst()
            waitingIDs.remove(first.msg)
        }
        return advance(to: waiting.first.map { $0.seq - 1 } ?? forwarded)
    }

    /// The client acked every entry up to `seq` (a `seq` ack); returns the new cursor when it moved.
    mutating func ack(through seq: UInt64) -> UInt64? {
        guard !overflowed else { return nil }
        while let first = waiting.first, first.seq <= seq {
            waiting.removeFirst()
            waitingIDs.remove(first.msg)
            ackedEarly.remove(first.msg)
        }
        forwarded = max(forwarded, seq)
        return advance(to: waiting.first.map { $0.seq - 1 } ?? forwarded)
    }

    private mutating func advance(to seq: UInt64) -> UInt64? {
        guard seq > cursor else { return nil }
        cursor = seq
        return seq
    }
}
