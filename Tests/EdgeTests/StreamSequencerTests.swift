@testable import Edge
import ParleyProtocol
import Testing

@Suite("StreamSequencer")
struct StreamSequencerTests {
    private typealias Pull = StreamSequencer.Pull

    private func entries(_ seqs: some Sequence<UInt64>) -> [StreamEntry] { seqs.map { messageEntry($0) } }

    /// A sequencer whose first page (after `after`, head `head`) came without entries.
    private func started(after: UInt64 = 0, maxHeld: Int = 1024) -> StreamSequencer {
        var sequencer = StreamSequencer(maxHeld: maxHeld)
        _ = sequencer.page([], syncPage(after: after, head: after))
        return sequencer
    }

    @Test("entries in order are forwarded at once, each once; the first page says where the session starts")
    func inOrder() {
        var sequencer = StreamSequencer(maxHeld: 1024)
        #expect(sequencer.next == nil)
        let first = sequencer.page(entries(6...8), syncPage(after: 5, head: 8))
        #expect(first.forward.map(\.seq) == [6, 7, 8])
        #expect(first.start == 5)
        #expect(first.synced == ServerFrame.Synced(seq: 8, epoch: "e1", reset: false))
        #expect(first.pull == nil && !first.more)
        #expect(sequencer.epoch == "e1")

        let live = sequencer.live(entries(9...10))
        #expect(live.forward.map(\.seq) == [9, 10])
        #expect(live.pull == nil && live.synced == nil && live.start == nil)
        #expect(sequencer.next == 11)
    }

    @Test("duplicates (below next, or twice in one batch) are dropped")
    func duplicates() {
        var sequencer = started(after: 3)
        #expect(sequencer.live(entries([4, 4, 5])).forward.map(\.seq) == [4, 5])
        #expect(sequencer.live(entries([1, 2, 5])).forward.isEmpty)
        // Held twice, released once.
        #expect(sequencer.live(entries([8, 8])).forward.isEmpty)
        #expect(sequencer.heldCount == 1)
        #expect(sequencer.live(entries([6, 7])).forward.map(\.seq) == [6, 7, 8])
    }

    @Test("live entries before the first page are held, and released after it in order; those it covered are dropped")
    func heldBeforeFirstPage() {
        var sequencer = StreamSequencer(maxHeld: 1024)
        let early = sequencer.live(entries([12, 11, 9]))
        #expect(early.forward.isEmpty && early.pull == nil, "no pull before the first page")
        #expect(sequencer.heldCount == 3)
        let page = sequencer.page(entries(8...10), syncPage(after: 7, head: 10))
        #expect(page.forward.map(\.seq) == [8, 9, 10, 11, 12])
        #expect(page.synced?.seq == 12, "synced says where the session is, past the page's head")
        #expect(sequencer.heldCount == 0)
    }

    @Test("a gap holds what follows it and pulls after next - 1 exactly once; the pull's page releases everything")
    func gapPulledOnce() {
        var sequencer = started(after: 4)
        let gap = sequencer.live(entries([7]))
        #expect(gap.forward.isEmpty)
        #expect(gap.pull == Pull(after: 4, epoch: "e1"))
        #expect(sequencer.live(entries([8])).pull == nil, "the gap's pull is in flight")
        #expect(sequencer.live(entries([10])).pull == nil, "another gap while it is in flight: the same pull covers it")

        let filled = sequencer.page(entries(5...8), syncPage(after: 4, head: 8))
        #expect(filled.forward.map(\.seq) == [5, 6, 7, 8])
        #expect(filled.synced == nil, "a gap's pull ends without synced")
        #expect(filled.pull == Pull(after: 8, epoch: "e1"), "10 is still held behind 9: one pull for that gap")
        #expect(sequencer.live(entries([9])).forward.map(\.seq) == [9, 10])
        #expect(sequencer.page([], syncPage(after: 8, head: 10)).pull == nil)
        #expect(!sequencer.isPulling)
        #expect(sequencer.live(entries([11])).forward.map(\.seq) == [11])
    }

    @Test("a page with more waits for pullMore, which pulls after the last forwarded seq; no gap pull meanwhile")
    func paging() {
        var sequencer = StreamSequencer(maxHeld: 1024)
        let first = sequencer.page(entries(1...3), syncPage(after: 0, head: 9, more: true))
        #expect(first.more && first.synced == nil && first.pull == nil)
        #expect(sequencer.waitingForMore)
        #expect(sequencer.live(entries([10])).pull == nil, "the replay's next page covers the gap")
        #expect(sequencer.pullMore() == Pull(after: 3, epoch: "e1"))
        #expect(sequencer.pullMore() == nil, "pulled once")
        let second = sequencer.page(entries(4...6), syncPage(after: 3, head: 10, more: true))
        #expect(second.forward.map(\.seq) == [4, 5, 6])
        #expect(sequencer.pullMore() == Pull(after: 6, epoch: "e1"))
        let last = sequencer.page(entries(7...9), syncPage(after: 6, head: 10))
        #expect(last.forward.map(\.seq) == [7, 8, 9, 10])
        #expect(last.synced == ServerFrame.Synced(seq: 10, epoch: "e1", reset: false))
        #expect(!sequencer.isPulling)
    }

    @Test("beyond maxHeld the newest held entry is dropped; a later pull brings it again")
    func boundOverflow() {
        var sequencer = started(after: 0, maxHeld: 3)
        #expect(sequencer.live(entries([5, 6, 7])).pull == Pull(after: 0, epoch: "e1"))
        _ = sequencer.live(entries([8]))
        #expect(sequencer.heldCount == 3, "8 is the newest: dropped")
        _ = sequencer.live(entries([4]))
        #expect(sequencer.heldCount == 3, "4 is kept, 7 (now the newest) dropped")
        // The gap's page brings 1-6 (its head was 6 when it was read): 4-6 come from the page or
        // the held ones, 7 and 8 are missing, so the next gap opens at 7 once 8 is seen again.
        let page = sequencer.page(entries(1...6), syncPage(after: 0, head: 6))
        #expect(page.forward.map(\.seq) == [1, 2, 3, 4, 5, 6])
        #expect(sequencer.heldCount == 0)
        #expect(sequencer.live(entries([9])).pull == Pull(after: 6, epoch: "e1"))
        #expect(sequencer.page(entries(7...9), syncPage(after: 6, head: 9)).forward.map(\.seq) == [7, 8, 9])
    }

    @Test("a reset starts over after the head: held entries below it are dropped, synced says reset")
    func reset() {
        var sequencer = StreamSequencer(maxHeld: 1024)
        _ = sequencer.live(entries([20, 21]))
        let first = sequencer.page([], syncPage(after: 20, head: 20, reset: true, epoch: "e2"))
        #expect(first.start == 20)
        #expect(first.forward.map(\.seq) == [21])
        #expect(first.synced == ServerFrame.Synced(seq: 21, epoch: "e2", reset: true))
        #expect(sequencer.next == 22 && sequencer.epoch == "e2")

        // A gap's pull that finds the stream reset (e.g. its epoch is gone) starts over too.
        #expect(sequencer.live(entries([24])).pull == Pull(after: 21, epoch: "e2"))
        let again = sequencer.page([], syncPage(after: 3, head: 3, reset: true, epoch: "e3"))
        #expect(again.start == 3)
        #expect(again.synced == ServerFrame.Synced(seq: 3, epoch: "e3", reset: true))
        #expect(again.forward.isEmpty, "24 was of the old epoch")
        #expect(sequencer.next == 4)
    }

    @Test("live entries of another epoch are dropped and pull once in the session's epoch (which comes back as a reset)")
    func otherEpoch() {
        var sequencer = started(after: 50)
        let other = sequencer.live(entries([1]), epoch: "e9")
        #expect(other.forward.isEmpty)
        #expect(other.pull == Pull(after: 50, epoch: "e1"))
        #expect(sequencer.live(entries([2]), epoch: "e9").pull == nil, "its pull is in flight")
        #expect(sequencer.live(entries([51]), epoch: "e1").forward.map(\.seq) == [51])
    }

    @Test("the client's sync restarts at its page's after: earlier seqs again, live entries held meanwhile")
    func restart() {
        var sequencer = started(after: 0)
        _ = sequencer.live(entries(1...5))
        sequencer.restart()
        #expect(sequencer.next == nil)
        #expect(sequencer.live(entries([6])).forward.isEmpty, "held until the restart's page")
        let page = sequencer.page(entries(3...5), syncPage(after: 2, head: 5))
        #expect(page.forward.map(\.seq) == [3, 4, 5, 6])
        #expect(page.start == nil, "same epoch: the session's acks go on from where they were")
        #expect(page.synced == ServerFrame.Synced(seq: 6, epoch: "e1", reset: false))
    }

    @Test("a restart behind a pull in flight: that pull's page is kept for the restart's, which decides")
    func restartBehindPull() {
        var sequencer = started(after: 0)
        #expect(sequencer.live(entries([3])).pull == Pull(after: 0, epoch: "e1"))
        sequencer.restart()
        let gapPage = sequencer.page(entries(1...3), syncPage(after: 0, head: 3, more: true))
        #expect(gapPage.forward.isEmpty && !gapPage.more && gapPage.synced == nil)
        #expect(sequencer.pullMore() == nil, "the restart decides what follows")
        let restartPage = sequencer.page(entries(2...3), syncPage(after: 1, head: 3))
        #expect(restartPage.forward.map(\.seq) == [2, 3])
        #expect(restartPage.synced?.seq == 3)
    }

    @Test("a page nobody pulled only counts for its entries")
    func unexpectedPage() {
        var sequencer = started(after: 0)
        let stray = sequencer.page(entries(1...2), syncPage(after: 0, head: 9, more: true))
        #expect(stray.forward.map(\.seq) == [1, 2])
        #expect(!stray.more && stray.synced == nil)
        #expect(!sequencer.isPulling)
    }
}
