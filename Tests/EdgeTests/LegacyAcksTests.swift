@testable import Edge
import Testing

@Suite("LegacyAcks")
struct LegacyAcksTests {
    @Test("the cursor moves over the longest prefix whose messages were all acked, passing over entries that need no ack")
    func prefix() {
        var acks = LegacyAcks(cursor: 10, limit: 100)
        acks.forwarded(seq: 11, awaiting: "m11")
        acks.forwarded(seq: 12, awaiting: nil)  // a receipt, or the user's own message
        acks.forwarded(seq: 13, awaiting: "m13")
        acks.forwarded(seq: 14, awaiting: "m14")
        acks.forwarded(seq: 15, awaiting: nil)

        #expect(acks.ack(["m13"]) == nil, "m11 is not acked: the cursor stays")
        #expect(acks.ack(["m11"]) == 13, "11-13 are done; 14 waits")
        #expect(acks.ack(["unknown", "m11"]) == nil, "ids it did not forward, or acked before, change nothing")
        #expect(acks.ack(["m14"]) == 15, "over the receipt after it")
        #expect(acks.cursor == 15)
        acks.forwarded(seq: 16, awaiting: nil)
        #expect(acks.ack([]) == 16, "nothing waits: the next ack passes over what needs none")
    }

    @Test("a seq ack drops what it covers; the prefix goes on from there")
    func seqAck() {
        var acks = LegacyAcks(cursor: 0, limit: 100)
        for seq in UInt64(1)...4 { acks.forwarded(seq: seq, awaiting: "m\(seq)") }
        #expect(acks.ack(through: 2) == 2)
        #expect(acks.ack(through: 1) == nil, "never backwards")
        #expect(acks.ack(["m4"]) == nil)
        #expect(acks.ack(["m3"]) == 4)
    }

    @Test("entries at or below one already noted (a replay again) are ignored")
    func replayedAgain() {
        var acks = LegacyAcks(cursor: 0, limit: 100)
        acks.forwarded(seq: 1, awaiting: "m1")
        acks.forwarded(seq: 2, awaiting: "m2")
        acks.forwarded(seq: 1, awaiting: "m1")
        #expect(acks.ack(["m1"]) == 1)
        #expect(acks.ack(["m2"]) == 2)
    }

    @Test("more than limit unacked messages: the cursor stays where it was for good, and nothing is kept")
    func overflow() {
        var acks = LegacyAcks(cursor: 0, limit: 3)
        for seq in UInt64(1)...3 { acks.forwarded(seq: seq, awaiting: "m\(seq)") }
        #expect(acks.ack(["m1"]) == 1)
        acks.forwarded(seq: 4, awaiting: "m4")
        #expect(!acks.overflowed, "three wait: at the limit")
        acks.forwarded(seq: 5, awaiting: "m5")
        #expect(acks.overflowed)
        #expect(acks.ack(["m2", "m3", "m4", "m5"]) == nil)
        #expect(acks.ack(through: 5) == nil)
        #expect(acks.cursor == 1)
    }
}
