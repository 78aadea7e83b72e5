@testable import Edge
import Foundation
import NIOCore
import Testing

@Suite("group ids and the typing throttle")
struct GroupIDAndThrottleTests {
    @Test("uuid5 matches RFC 9562's algorithm (Python's uuid.uuid5 of the DNS namespace and python.org)")
    func uuid5() {
        let dns = UUID(uuidString: "6ba7b810-9dad-11d1-80b4-00c04fd430c8")!
        #expect(GroupID.uuid5(namespace: dns, name: Array("python.org".utf8)).uuidString.lowercased() == "886313e1-3b8a-5372-9b90-0c9aee199e5d")
    }

    @Test("a group id is g: and a lowercase v5 UUID of creator and client id: the same for a retry, another per creator and id")
    func groupID() {
        let id = GroupID.derive(creator: "alice", clientID: "c1")
        // uuid.uuid5(uuid.UUID("8f3b6a52-1c4e-4d7a-9b2f-5e0c7d9a3f61"), "alice\nc1") in Python.
        #expect(id == "g:4b8db0dd-37df-5caa-93e3-75c70f079682")
        #expect(GroupID.derive(creator: "alice", clientID: "c1") == id)
        #expect(GroupID.derive(creator: "bob", clientID: "c1") != id)
        #expect(GroupID.derive(creator: "alice", clientID: "c2") != id)
    }

    @Test("the throttle lets one signal per conversation and interval through")
    func throttle() {
        var throttle = TypingThrottle()
        func allows(_ conv: String, at milliseconds: Int64) -> Bool {
            throttle.allows(conv, now: .uptimeNanoseconds(1_000_000_000) + .milliseconds(milliseconds), interval: .seconds(2))
        }
        #expect(allows("dm:a:b", at: 0))
        #expect(!allows("dm:a:b", at: 1999))
        #expect(allows("g:team", at: 1999), "another conversation")
        #expect(allows("dm:a:b", at: 2000))
        #expect(!allows("dm:a:b", at: 3000), "the interval restarts at the forwarded one")
    }

    @Test("past 64 conversations the throttle forgets those whose interval is over; one within its interval stays throttled")
    func throttlePrunes() {
        var throttle = TypingThrottle()
        func allows(_ conv: String, at milliseconds: Int64) -> Bool {
            throttle.allows(conv, now: .uptimeNanoseconds(1_000_000_000) + .milliseconds(milliseconds), interval: .seconds(2))
        }
        for index in 0..<63 { #expect(allows("g:old\(index)", at: 0)) }
        #expect(allows("g:recent", at: 1000))
        #expect(allows("g:new", at: 2000), "the 65th prunes")
        #expect(!allows("g:recent", at: 2000), "still within its interval")
        #expect(allows("g:old0", at: 2000))
    }
}
