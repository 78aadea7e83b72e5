import ParleyProtocol

/// Puts one session's stream entries in `seq` order, each once, whichever way they came: live
/// (offline-svc delivers what it appends to subscribed sessions) or in the pages of a `sync`
/// pull. The two paths are not ordered against each other, so:
///
/// - `next` is the `seq` the session needs; nil until a start page says where the session
///   starts (live entries that come before it are held).
/// - An entry with `seq` == `next` is forwarded, then every held entry that follows it; one below
///   `next` is a duplicate and dropped; one above is held (at most `maxHeld`: beyond that the
///   newest held entry is dropped, and a later pull brings it again).
/// - A gap (an entry is held) pulls `sync after: next − 1`, once: not while a pull is in flight
///   or waiting. Every entry below a held one was appended before it, so that pull fills the gap.
/// - Pulls of one session go to one partition (keyed by user) and are answered in order, so each
///   page answers the oldest pull in flight.
///
/// Pure logic, owned by its session (loop-bound).
struct StreamSequencer {
    /// A `sync` pull to send: the entries after `after` in `epoch`.
    struct Pull: Equatable {
        var after: UInt64
        var epoch: String?
    }

    /// What the session does with what came in.
    struct Step: Equatable {
        /// Entries to write, in `seq` order.
        var forward: [StreamEntry] = []
        /// A pull to send now (a gap opened).
        var pull: Pull?
        /// The session (re)starts after this `seq`: the first page, or a reset.
        var start: UInt64?
        /// The page said more: ``pullMore()`` when the session may take the next page.
        var more = false
        /// A replay (the first, or one the client asked for) or a reset ended here.
        var synced: ServerFrame.Synced?
    }

    /// What a pull in flight will answer.
    private enum Expected {
        /// Sets `next` from its page (the session's first pull, or the client's `sync`).
        case start
        /// Continues from `next` (the next page of a replay, or a gap).
        case resume
    }

    let maxHeld: Int
    private(set) var next: UInt64?
    /// The stream's epoch, from the pages.
    private(set) var epoch: String?
    /// Entries above `next`, ascending by `seq`, no duplicates.
    private var held: [StreamEntry] = []
    /// Pulls in flight, oldest first.
    private var expected: [Expected] = [.start]
    /// A page said more; the next one is pulled by ``pullMore()``.
    private(set) var waitingForMore = false
    /// A start pull's replay is running (it ends with `synced`).
    private var replaying = true

    /// A sequencer whose session's first pull is in flight.
    init(maxHeld: Int) {
        self.maxHeld = maxHeld
    }

    /// How many entries are held.
    var heldCount: Int { held.count }

    /// Whether a pull is in flight or waiting for ``pullMore()``.
    var isPulling: Bool { !expected.isEmpty || waitingForMore }

    /// Live entries, delivered in `epoch` (nil: not said).
    mutating func live(_ entries: [StreamEntry], epoch: String? = nil) -> Step {
        var step = Step()
        if let epoch, let current = self.epoch, epoch != current {
            // The stream was made again (a new epoch): these seqs mean nothing here. A pull in
            // the session's epoch comes back as a reset.
            step.pull = pull(gap: false)
            return step
        }
        accept(entries, into: &step.forward)
        step.pull = pull(gap: true)
        return step
    }

    /// The page answering the oldest pull in flight, with its entries.
    mutating func page(_ entries: [StreamEntry], _ page: SyncPage) -> Step {
        var step = Step()
        guard !expected.isEmpty else {
            // No pull is in flight (a record delivered twice): only its entries count.
            return live(entries, epoch: page.epoch)
        }
        let answered = expected.removeFirst()
        if answered == .start || page.reset {
            if epoch == nil || page.reset { step.start = page.after }
            if let epoch, epoch != page.epoch {
                held.removeAll()  // their seqs are of the old epoch
            } else {
                dropHeld(below: page.after + 1)
            }
            next = page.after + 1
            epoch = page.epoch
        } else if next == nil {
            // A start pull waits behind this page and will set `next`: keep what this one brought.
            for entry in entries { hold(entry) }
            return step
        }
        accept(entries, into: &step.forward)
        guard expected.isEmpty else { return step }  // a later pull decides what follows
        if page.more, !page.reset {
            waitingForMore = true
            step.more = true
            return step
        }
        if replaying || page.reset, let next {
            step.synced = ServerFrame.Synced(seq: next - 1, epoch: page.epoch, reset: page.reset)
        }
        replaying = false
        step.pull = pull(gap: true)
        return step
    }

    /// The next page of a replay, once the session may take it; nil when no page said more.
    mutating func pullMore() -> Pull? {
        guard waitingForMore, let next else { return nil }
        waitingForMore = false
        expected.append(.resume)
        return Pull(after: next - 1, epoch: epoch)
    }

    /// The client asked for a replay (`sync`): its page sets `next` again, and live entries are
    /// held until it comes. The caller sends that pull.
    mutating func restart() {
        expected.append(.start)
        next = nil
        waitingForMore = false
        replaying = true
    }

    /// presence-svc had given the edge up for dead and offline-svc dropped the session's
    /// subscription: the pull (the caller sends it subscribing) that resumes from where the
    /// session is (`from` until a start page said where that is). Its page continues like a gap's.
    mutating func resubscribe(from start: UInt64) -> Pull {
        expected.append(.resume)
        return Pull(after: next.map { $0 - 1 } ?? start, epoch: epoch)
    }

    /// A pull after `next − 1` when none is in flight or waiting: for a gap (`gap`: only when an
    /// entry is held) or always (another epoch was seen).
    private mutating func pull(gap: Bool) -> Pull? {
        guard let next, !isPulling, !gap || !held.isEmpty else { return nil }
        expected.append(.resume)
        return Pull(after: next - 1, epoch: epoch)
    }

    /// Forwards the entries (and then the held ones) that follow `next` without a gap, holds
    /// those after a gap, drops duplicates. An entry after a gap is held and released in order
    /// once the gap closed.
    private mutating func accept(_ entries: [StreamEntry], into forward: inout [StreamEntry]) {
        for entry in entries {
            guard let next else {
                hold(entry)
                continue
            }
            if entry.seq == next {
                forward.append(entry)
                self.next = next + 1
            } else if entry.seq > next {
                hold(entry)
            }
        }
        guard var next else { return }
        var taken = 0
        for entry in held {
            if entry.seq > next { break }
            if entry.seq == next {
                forward.append(entry)
                next += 1
            }
            taken += 1
        }
        held.removeFirst(taken)
        self.next = next
    }

    private mutating func hold(_ entry: StreamEntry) {
        var low = 0, high = held.count
        while low < high {
            let middle = (low + high) / 2
            if held[middle].seq < entry.seq { low = middle + 1 } else { high = middle }
        }
        if low < held.count, held[low].seq == entry.seq { return }
        held.insert(entry, at: low)
        if held.count > maxHeld { held.removeLast() }
    }

    private mutating func dropHeld(below seq: UInt64) {
        held.removeFirst(held.prefix { $0.seq < seq }.count)
    }
}
