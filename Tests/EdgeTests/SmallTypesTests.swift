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

@Suite("SessionRequest")
struct SessionRequestTests {
    private func parse(device: String? = nil, since: String? = nil, epoch: String? = nil) -> SessionRequest? {
        try? SessionRequest.parse(user: "alice", device: device, since: since, epoch: epoch).get()
    }

    @Test("no device is a v1 session; a device makes a v2 session with its since and epoch")
    func valid() {
        #expect(parse() == SessionRequest(user: "alice", kind: .v1, since: nil, epoch: nil))
        #expect(parse(device: "phone-1.a_b") == SessionRequest(user: "alice", kind: .v2(device: "phone-1.a_b"), since: nil, epoch: nil))
        #expect(parse(device: "d", since: "0", epoch: "abc123") == SessionRequest(user: "alice", kind: .v2(device: "d"), since: 0, epoch: "abc123"))
        #expect(parse(device: "d", since: "9007199254740991")?.since == 9_007_199_254_740_991)
        #expect(parse(device: String(repeating: "d", count: 64)) != nil)
    }

    @Test("a bad device, since or epoch, or since/epoch without a device, is refused")
    func invalid() {
        for device in ["", "~v1", "has space", "ümlaut", String(repeating: "d", count: 65)] {
            #expect(parse(device: device) == nil, "device \(device.debugDescription)")
        }
        for since in ["", "-1", "+1", "1.0", "0x10", "1e3", " 1", "9007199254740992", "99999999999999999999"] {
            #expect(parse(device: "d", since: since) == nil, "since \(since.debugDescription)")
        }
        #expect(parse(device: "d", since: "1", epoch: "") == nil)
        #expect(parse(device: "d", since: "1", epoch: "bad epoch") == nil)
        #expect(parse(since: "1") == nil)
        #expect(parse(epoch: "e1") == nil)
    }
}
