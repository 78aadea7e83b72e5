@testable import Edge
import ParleyProtocol
import Testing

@Suite("TokenBucket")
struct TokenBucketTests {
    @Test("a full bucket gives `burst` tokens at once, then `rate` per second, never more than `burst`")
    func rateAndBurst() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(rate: 2, burst: 3, now: start)
        let taken = [Duration.zero, .zero, .zero, .zero, .milliseconds(499), .milliseconds(500), .milliseconds(500)]
            .map { bucket.take(now: start + $0) }
        // Three at once, none then; half a token after 499 ms, one after 500 ms.
        #expect(taken == [true, true, true, false, false, true, false])
        // A long pause refills to the burst, not beyond.
        let later = start + .seconds(60)
        #expect((0..<4).map { _ in bucket.take(now: later) } == [true, true, true, false])
    }
}

@Suite("RecentSends")
struct RecentSendsTests {
    @Test("a retry of a (user, client id) gets the message id of the first send; another user's or id's a new one")
    func retries() {
        var sends = RecentSends()
        var made = 0
        let ids = [("alice", "c1"), ("alice", "c1"), ("bob", "c1"), ("alice", "c2")].map { user, clientID in
            sends.messageID(user: user, clientID: clientID) {
                made += 1
                return "m\(made)"
            }
        }
        #expect(ids.map(\.msg) == ["m1", "m1", "m2", "m3"])
        #expect(ids.map(\.retry) == [false, true, false, false])
        #expect(made == 3)
    }

    @Test("past twice the limit the oldest are forgotten, the newest `limit` kept")
    func bounded() {
        var sends = RecentSends(limit: 2)
        for i in 0..<5 { _ = sends.messageID(user: "u", clientID: "c\(i)") { "m\(i)" } }
        // 5 > 2 × 2: the oldest 3 went, c3 and c4 stay.
        let again = ["c4", "c3", "c0"].map { id in sends.messageID(user: "u", clientID: id) { "new" }.msg }
        #expect(again == ["m4", "m3", "new"])
    }
}
