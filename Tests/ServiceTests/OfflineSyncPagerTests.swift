@testable import Offline
import ParleyBackend
import ParleyProtocol
import ParleyRedis
import Testing

/// The sync pager on the real redis-server: pages, bodies, byte bound, backlog, and the
/// linearisation of the first page's step with appends.
@Suite("offline-svc sync pages")
struct OfflineSyncPagerTests {
    func pager(_ stream: StreamFixture) -> SyncPager {
        SyncPager(scripts: stream.scripts, redis: stream.redis, logger: serviceLogger("pager"))
    }

    /// Pulls pages after `after` until one says no more; returns the pages.
    func pullAll(_ pager: SyncPager, _ stream: StreamFixture, after: UInt64, epoch: String?) async throws -> [DeliverEnvelope] {
        var pages: [DeliverEnvelope] = []
        var after = after, epoch = epoch
        while true {
            let page = try await pager.page(stream.query(after: after, epoch: epoch))
            pages.append(page)
            let info = try #require(page.page)
            #expect(!info.reset)
            guard info.more else { return pages }
            after = try #require(page.entries.last?.seq)
            epoch = info.epoch
        }
    }

    @Test("450 entries page out as 200, 200 and 50, each but the last saying more, with bodies from the conversation log")
    func pages() async throws {
        let stream = try StreamFixture()
        let peer = uniqueID("peter")
        let logged = try await loggedMessages(from: peer, to: stream.user, count: 450, redis: stream.redis)
        try await stream.append(logged)
        let pages = try await pullAll(pager(stream), stream, after: 0, epoch: nil)
        #expect(pages.map(\.entries.count) == [200, 200, 50])
        #expect(pages.map { $0.page?.more } == [true, true, false])
        #expect(pages.map { $0.page?.after } == [0, 200, 400])
        #expect(pages.allSatisfy { $0.page?.head == 450 && $0.sessions == ["s1"] && $0.user == stream.user })
        let entries = pages.flatMap(\.entries)
        #expect(entries.map(\.seq) == Array(1...450))
        #expect(entries.map(\.body) == logged.map(\.body))
        #expect(!entries.contains { $0.gone })
        try await stream.clear()
    }

    @Test("a backlog of 20,000 entries pages out in full, in order, without gaps")
    func backlog() async throws {
        let stream = try StreamFixture(policy: StreamPolicy(maxEntries: 20_000))
        let peer = uniqueID("peter")
        for start in stride(from: 1, through: 20_000, by: 1000) {
            try await stream.append(try await loggedMessages(from: peer, to: stream.user, count: 1000, start: UInt64(start), redis: stream.redis))
        }
        let pages = try await pullAll(pager(stream), stream, after: 0, epoch: nil)
        #expect(pages.count == 100)
        #expect(pages.allSatisfy { $0.entries.count <= 200 })
        let entries = pages.flatMap(\.entries)
        #expect(entries.map(\.seq) == Array(1...20_000))
        #expect(entries.map(\.cseq) == Array(1...20_000))
        #expect(!entries.contains { $0.gone || $0.body == nil })
        try await stream.clear()
    }

    @Test("a message whose log entry is gone is sent with gone and no body; other kinds need no body")
    func gone() async throws {
        let stream = try StreamFixture()
        let peer = uniqueID("peter")
        let kept = try await loggedMessages(from: peer, to: stream.user, count: 1, start: 2, redis: stream.redis)[0]
        let missing = messageEntry(from: peer, to: stream.user, cseq: 1, body: "trimmed from the log")
        let receipt = StreamEntry(kind: .receipt, msg: kept.msg, conv: kept.conv, cseq: 2, by: peer, status: .read)
        try await stream.append([missing, kept, receipt])
        let page = try await pager(stream).page(stream.query(after: 0))
        #expect(page.entries.map(\.gone) == [true, false, false])
        #expect(page.entries.map(\.body) == [nil, kept.body, nil])
        try await stream.clear()
    }

    @Test("a page is cut to --sync-page-bytes (one entry always fits) and then says more")
    func byteBound() async throws {
        let stream = try StreamFixture(policy: StreamPolicy(pageBytes: 16384))
        let peer = uniqueID("peter")
        let big = String(repeating: "x", count: 5000)
        var entries: [StreamEntry] = []
        for cseq in 1...10 as ClosedRange<UInt64> {
            let entry = messageEntry(from: peer, to: stream.user, cseq: cseq, body: cseq == 1 ? String(repeating: "y", count: 20_000) : big)
            _ = try await stream.redis.send(logWrite(try #require(entry.chatMessage)))
            entries.append(entry)
        }
        try await stream.append(entries)
        let pages = try await pullAll(pager(stream), stream, after: 0, epoch: nil)
        #expect(pages.first?.entries.count == 1, "an entry larger than the bound gets a page of its own")
        #expect(pages.dropFirst().allSatisfy { $0.entries.count == 3 || $0.page?.more == false })
        #expect(pages.flatMap(\.entries).map(\.seq) == Array(1...10))
        #expect(pages.dropLast().allSatisfy { $0.page?.more == true })
        try await stream.clear()
    }

    @Test("live and replay never miss each other: each append is in the first page or delivered to the subscribed session, never both")
    func linearisation() async throws {
        var interleaved = 0
        for _ in 0..<10 {
            let stream = try StreamFixture()
            let peer = uniqueID("peter")
            let entries = (1...150).map { messageEntry(from: peer, to: stream.user, cseq: UInt64($0)) }
            // The first half is stored before the sync; the second half is appended one script at a
            // time while the first page's step (with its subscription) runs.
            let before = try await stream.append(Array(entries.prefix(75)))
            async let during = { () async throws -> [AppendOutcome] in
                var outcomes: [AppendOutcome] = []
                for entry in entries.suffix(75) { outcomes.append(try await stream.append(entry)) }
                return outcomes
            }()
            let page = try await pager(stream).page(stream.query(after: 0, subscribe: true))
            let outcomes = try await before + during
            let head = try #require(page.page?.head)
            #expect(page.entries.map(\.seq) == Array(1...head), "the page has every entry up to its head")
            #expect(outcomes.map(\.seq) == Array(1...150))
            for outcome in outcomes {
                let live = outcome.subscribers.contains { $0.session == "s1" }
                #expect(live == (outcome.seq > head), "seq \(outcome.seq), page head \(head)")
            }
            if head < 150 { interleaved += 1 }
            try await stream.clear()
        }
        #expect(interleaved > 0, "no round appended anything after the page's step: the interleaving was not exercised")
    }
}
