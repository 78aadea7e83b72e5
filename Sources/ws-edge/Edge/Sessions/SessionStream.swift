import NIOCore
import ParleyProtocol

/// A session's place in its user's stream, kept by the ``Session`` (loop-bound like it).
struct SessionStreamState {
    var sequencer: StreamSequencer
    /// A v1 session's acks by message id, from its first page on.
    var legacy: LegacyAcks?
    /// The last `seq` acked for the session: where its replay started, until it acks.
    var acked: UInt64 = 0
    /// A page with more after it was queued and its write has not completed.
    var writingPage = false
    /// Runs while the next page waits only for an ack; closes the session when it fires.
    var ackTimer: Scheduled<Void>?

    init(settings: SessionSettings) {
        sequencer = StreamSequencer(maxHeld: settings.maxHeld)
    }
}

// The session's stream: its pulls (the first one subscribes it), the entries that come back live
// or in pages, put in order by its ``StreamSequencer`` and written as each kind of client reads
// them, and its acks. The replay is pulled a page at a time: the next page once the previous one
// was written and the session is less than `syncWindow` entries ahead of its last ack.
extension Session {
    /// Subscribes the session to its user's stream and pulls its first page: after `since` in
    /// `epoch`, or after the device's cursor.
    func startStream(since: UInt64?, epoch: String?) {
        stream.acked = since ?? 0
        pull(after: since, epoch: epoch, subscribe: true)
    }

    /// The client's `sync`: a replay after `after` in `epoch`, like the first one.
    func resync(after: UInt64, epoch: String?) {
        stream.sequencer.restart()
        pull(after: after, epoch: epoch, subscribe: false)
    }

    /// Subscribes the session again (presence-svc asked the edge to report its sessions again,
    /// after it had dropped them and offline-svc their subscriptions).
    func resubscribe() {
        guard isOpen else { return }
        let pull = stream.sequencer.resubscribe(from: stream.acked)
        self.pull(after: pull.after, epoch: pull.epoch, subscribe: true)
    }

    /// The session is gone: offline-svc drops its subscription. Same topic and key as its pulls,
    /// so it comes after them.
    func endStream() {
        stream.ackTimer?.cancel()
        reports.publishQuery(QueryEnvelope(kind: .unsubscribe, user: user, device: kind.device, session: id, edge: settings.edge),
                             completion: nil)
    }

    /// Entries of the session's stream: live ones (`epoch` as delivered), or the page answering
    /// its oldest pull. Queues their frames; a page's are written at once. Returns how many
    /// messages were queued.
    func receive(_ entries: [StreamEntry], page: SyncPage?, epoch: String?) -> Int {
        guard isOpen else { return 0 }
        let step = if let page { stream.sequencer.page(entries, page) } else { stream.sequencer.live(entries, epoch: epoch) }
        if let start = step.start {
            stream.acked = start
            if kind == .v1 { stream.legacy = LegacyAcks(cursor: start, limit: settings.legacyAckLimit) }
        }
        // Set first: the acks `forward` may send must not pull the next page before this one is written.
        if step.more { stream.writingPage = true }
        let messages = forward(step.forward, live: page == nil)
        if let synced = step.synced, case .v2 = kind { queue(.frame(.synced(synced)), live: false) }
        if let pull = step.pull { self.pull(after: pull.after, epoch: pull.epoch) }
        if step.more {
            flush { [self] in
                stream.writingPage = false
                pullMore()
            }
        }
        return messages
    }

    /// The client's `ack`: `seq` from any session, `msgs` from a v1 session (mapped to the
    /// prefix they complete, ``LegacyAcks``). Also while the edge is closing the session.
    func ack(_ frame: ClientFrame.Ack) -> ProtocolError? {
        if let seq = frame.seq {
            // Once the session knows where it is, an ack never goes beyond what it forwarded (the
            // server clamps to the head too, but the session's own `acked` must stay real).
            let seq = stream.sequencer.next.map { min(seq, $0 - 1) } ?? seq
            if let legacy = stream.legacy, !legacy.overflowed {
                if let moved = stream.legacy?.ack(through: seq) { ack(upTo: moved) }
            } else {
                ack(upTo: seq)
            }
            return nil
        }
        guard kind == .v1 else { return ProtocolError(.badRequest, "a session with a device acks with seq") }
        if let moved = stream.legacy?.ack(frame.msgs ?? []) { ack(upTo: moved) }
        return nil
    }

    /// Writes entries as this session's client reads them; returns how many messages it queued.
    private func forward(_ entries: [StreamEntry], live: Bool) -> Int {
        var messages = 0
        for entry in entries {
            let fromOther = entry.kind == .message && entry.from != user
            stream.legacy?.forwarded(seq: entry.seq, awaiting: fromOther ? entry.msg : nil)
            guard let item = outbound(entry, fromOther: fromOther) else { continue }
            guard queue(item, live: live) else { return messages }
            if entry.kind == .message { messages += 1 }
        }
        switch kind {
        case .v2:
            break
        case .v1:
            // Entries a v1 client never acks (its own messages, reads, receipts) count as acked
            // when no message before them waits: its replay must not stall on them.
            if let moved = stream.legacy?.ack([]) { ack(upTo: moved) }
        case .seed:
            // The seed protocol has no acks: what it was sent counts as acked (at most once).
            if let last = entries.last { ack(upTo: last.seq) }
        }
        return messages
    }

    /// How `entry` reaches this session's client, or nil when that client does not see it: v1
    /// clients see other users' messages and receipts, the seed mode other users' message bodies.
    private func outbound(_ entry: StreamEntry, fromOther: Bool) -> Outbound? {
        switch kind {
        case .v2:
            guard fromOther else { return .frame(.entry(entry)) }
        case .v1:
            if entry.kind == .receipt { return .frame(.entry(entry)) }
            guard fromOther else { return nil }
        case .seed:
            return fromOther ? entry.body.map(Outbound.raw) : nil
        }
        var entry = entry
        entry.id = nil  // the sender's client id is the sender's
        return .frame(.entry(entry))
    }

    /// Publishes the session's ack up to `seq` (`after`: the previous one), unless it is not past it.
    private func ack(upTo seq: UInt64) {
        guard seq > stream.acked else { return }
        reports.publishCursor(CursorMove(kind: .ack, user: user, device: kind.device, session: id, edge: settings.edge,
                                         seq: seq, after: stream.acked))
        stream.acked = seq
        stream.ackTimer?.cancel()
        stream.ackTimer = nil
        pullMore()
    }

    /// Pulls the replay's next page when a page said more, was written, and the session is less
    /// than `syncWindow` entries ahead of its last ack. When only the window holds it back, the
    /// session has `syncAckTimeout` to ack.
    private func pullMore() {
        guard isOpen, stream.sequencer.waitingForMore, !stream.writingPage else { return }
        let forwarded = (stream.sequencer.next ?? 1) - 1
        if forwarded > stream.acked, forwarded - stream.acked >= settings.syncWindow {
            if stream.ackTimer == nil {
                stream.ackTimer = eventLoop.assumeIsolated().scheduleTask(in: settings.syncAckTimeout) { [self] in
                    close(.noAcks)
                }
            }
            return
        }
        if let pull = stream.sequencer.pullMore() { self.pull(after: pull.after, epoch: pull.epoch) }
    }

    /// Sends a `sync` pull. If the broker does not take it, no page will come: the session is
    /// closed so its client reconnects. (The outcome arrives on the producer's thread and goes
    /// back to the session's loop.)
    private func pull(after: UInt64?, epoch: String?, subscribe: Bool = false) {
        let query = QueryEnvelope(kind: .sync, user: user, device: kind.device, session: id, edge: settings.edge,
                                  after: after, epoch: epoch, subscribe: subscribe)
        let session = NIOLoopBound(self, eventLoop: eventLoop)
        reports.publishQuery(query) { result in
            guard case .failure = result else { return }
            session.eventLoop.execute { session.value.close(.unavailable) }
        }
    }
}
