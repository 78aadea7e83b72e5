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
    @Test("a first send is produced; a retry waits while it is in flight, then gets `sent` with the same msg")
    func retries() {
        var sends = RecentSends<String>()
        var made = 0
        let make = { () -> String in
            made += 1
            return "m\(made)"
        }
        guard case .produce(let msg) = sends.claim(user: "alice", clientID: "c1", waiter: "s1", make: make) else {
            Issue.record("a first send is produced")
            return
        }
        #expect(msg == "m1")
        guard case .wait = sends.claim(user: "alice", clientID: "c1", waiter: "s2", make: make) else {
            Issue.record("a retry in flight waits")
            return
        }
        #expect(sends.settle(user: "alice", clientID: "c1", accepted: true) == ["s2"])
        guard case .sent(let again) = sends.claim(user: "alice", clientID: "c1", waiter: "s3", make: make) else {
            Issue.record("a retry after sent gets sent")
            return
        }
        #expect(again == "m1")
        #expect(made == 1)
        // Another user's or another client id's send is a new message.
        guard case .produce("m2") = sends.claim(user: "bob", clientID: "c1", waiter: "s4", make: make),
              case .produce("m3") = sends.claim(user: "alice", clientID: "c2", waiter: "s1", make: make)
        else {
            Issue.record("other sends are produced")
            return
        }
    }

    @Test("a retry after `unavailable` is produced again with the same msg")
    func retryAfterFailure() {
        var sends = RecentSends<String>()
        _ = sends.claim(user: "u", clientID: "c", waiter: "s") { "m1" }
        #expect(sends.settle(user: "u", clientID: "c", accepted: false).isEmpty)
        let again = sends.claim(user: "u", clientID: "c", waiter: "s", make: { "new" })
        guard case .produce("m1") = again else {
            Issue.record("produced again with m1, got \(again)")
            return
        }
    }

    @Test("past twice the limit the oldest are forgotten, the newest `limit` kept")
    func bounded() {
        var sends = RecentSends<String>(limit: 2)
        for i in 0..<5 {
            _ = sends.claim(user: "u", clientID: "c\(i)", waiter: "s") { "m\(i)" }
            _ = sends.settle(user: "u", clientID: "c\(i)", accepted: true)
        }
        // 5 > 2 × 2: the oldest 3 went, c3 and c4 stay.
        let again = ["c4", "c3", "c0"].map { id -> String in
            switch sends.claim(user: "u", clientID: id, waiter: "s", make: { "new" }) {
            case .sent(let msg), .produce(let msg): msg
            case .wait: "wait"
            }
        }
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
