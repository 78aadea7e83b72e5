import Logging
import Metrics
import ParleyBackend
import ParleyProtocol
import ParleyRedis

/// Answers `sync` pulls with pages of a user's stream.
///
/// The sync script is the page's atomic step: meta check, the session's subscription (on its
/// first pull), the reset rules and the page's entries (at most `--sync-page-entries`). An
/// append on the same slot runs either before it (the page has the entry) or after it (the
/// subscription delivers it live), so the two never miss each other. Outside the script the
/// message bodies come from the conversation logs in one round trip (a missing one: `gone`),
/// and the page is cut to `--sync-page-bytes` of entry JSON (a cut page says `more`).
struct SyncPager: Sendable {
    let scripts: StreamScripts
    let redis: RedisClient
    let logger: Logger

    private let pages = Counter(label: "parley_sync_pages_total")
    private let resets = Counter(label: "parley_sync_resets_total")

    init(scripts: StreamScripts, redis: RedisClient, logger: Logger) {
        self.scripts = scripts
        self.redis = redis
        self.logger = logger
    }

    /// A page started in a pipeline: the query and where its script's reply will be.
    struct Started: Sendable {
        let query: QueryEnvelope
        let reply: RedisPipeline.Entry<SyncOutcome>
    }

    /// Adds `query`'s sync script to `pipeline`.
    func start(_ query: QueryEnvelope, in pipeline: inout RedisPipeline) -> Started {
        Started(query: query, reply: pipeline.add(scripts.sync(query, now: UnixTime.nowMilliseconds)))
    }

    /// The answers of the started pages, with their bodies (one more round trip for all of them).
    func finish(_ started: [Started], replies: RedisPipeline.Replies) async throws -> [DeliverEnvelope] {
        var outcomes: [(query: QueryEnvelope, outcome: SyncOutcome, entries: [StreamEntry])] = []
        for page in started {
            let outcome = try replies[page.reply]
            outcomes.append((page.query, outcome, outcome.entries.compactMap { stored(page.query.user, $0) }))
        }
        let wanted = outcomes.flatMap(\.entries).filter { $0.kind == .message }.map { MessageKey(conv: $0.conv, cseq: $0.cseq) }
        let bodies = wanted.isEmpty ? [:] : try await ConversationLogReads.messages(wanted, redis: redis)
        return outcomes.map { query, outcome, entries in
            pages.increment()
            if outcome.reset { resets.increment() }
            let (page, cut) = Self.cut(entries.map { Self.withBody($0, bodies) }, maxBytes: scripts.policy.pageBytes)
            return DeliverEnvelope(user: query.user, sessions: [query.session], entries: page,
                                   page: SyncPage(epoch: outcome.epoch, head: outcome.head, after: outcome.after,
                                                  more: outcome.more || cut, reset: outcome.reset))
        }
    }

    /// One page for `query` alone.
    func page(_ query: QueryEnvelope) async throws -> DeliverEnvelope {
        var pipeline = RedisPipeline()
        let started = start(query, in: &pipeline)
        return try await finish([started], replies: try await redis.send(pipeline))[0]
    }

    /// A stored entry with its seq; nil (logged) for one that does not decode, which only a
    /// hand-edited stream can hold: the page goes on without it.
    private func stored(_ user: String, _ stored: StoredEntry) -> StreamEntry? {
        do {
            var entry = try Envelope.decode(StreamEntry.self, from: stored.json)
            entry.seq = stored.seq
            return entry
        } catch {
            logger.error("skipping a stored stream entry that does not decode", metadata: [
                "parley.user": "\(user)", "parley.seq": "\(stored.seq)", "parley.error": "\(error)"])
            return nil
        }
    }

    /// A message entry with its body from the log, or `gone`.
    static func withBody(_ entry: StreamEntry, _ bodies: [MessageKey: ChatMessage]) -> StreamEntry {
        guard entry.kind == .message else { return entry }
        var entry = entry
        if let message = bodies[MessageKey(conv: entry.conv, cseq: entry.cseq)] {
            entry.body = message.body
        } else {
            entry.gone = true
        }
        return entry
    }

    /// The longest prefix of `entries` within `maxBytes` of JSON (at least one entry), and
    /// whether entries were cut.
    static func cut(_ entries: [StreamEntry], maxBytes: Int) -> (entries: [StreamEntry], cut: Bool) {
        var bytes = 0
        for (index, entry) in entries.enumerated() {
            bytes += Envelope.encode(entry).count + 1
            if bytes > maxBytes, index > 0 { return (Array(entries[..<index]), true) }
        }
        return (entries, false)
    }
}
