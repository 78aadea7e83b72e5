@testable import Edge
import NIOCore
import NIOEmbedded
import Testing

@Suite("SessionHub")
struct SessionHubTests {
    private func hub(maxSessionsPerUser: Int = 2) -> SessionHub {
        SessionHub(maxSessionsPerUser: maxSessionsPerUser, reports: RecordedReports(), metrics: EdgeMetrics())
    }

    @Test("admits up to max-sessions-per-user per user; a release frees a place")
    func admission() {
        let hub = hub()
        #expect(hub.admit(user: "alice") == .admitted)
        #expect(hub.admit(user: "alice") == .admitted)
        #expect(hub.admit(user: "alice") == .tooManySessions)
        #expect(hub.admit(user: "bob") == .admitted)
        #expect(hub.count == 3)
        hub.release(user: "alice")
        #expect(hub.admit(user: "alice") == .admitted)
    }

    @Test("one outbox per event loop")
    func outboxPerLoop() {
        let hub = hub()
        let loop = EmbeddedEventLoop(), another = EmbeddedEventLoop()
        #expect(hub.outbox(for: loop) === hub.outbox(for: loop))
        #expect(hub.outbox(for: loop) !== hub.outbox(for: another))
    }

    @Test("closeAll admits no one any more and closes the sessions of every loop with its reason")
    func closeAll() throws {
        let hub = hub()
        let loops = [EmbeddedEventLoop(), EmbeddedEventLoop()]
        let sessions = try loops.map { loop in
            let s = try EmbeddedSession(user: "alice", loop: loop)
            #expect(hub.admit(user: "alice") == .admitted)
            hub.outbox(for: loop).sessions.add(s.session)
            return s
        }
        hub.closeAll(.goingAway)
        #expect(hub.isClosing)
        #expect(hub.admit(user: "bob") == .shuttingDown)
        for loop in loops { loop.run() }
        #expect(sessions.allSatisfy { $0.session.end == .closedByEdge(.goingAway) })
    }

    @Test("waitUntilEmpty returns at once without sessions, and once the last session is released")
    func waitUntilEmpty() async {
        let hub = hub()
        await hub.waitUntilEmpty()
        #expect(hub.admit(user: "alice") == .admitted)
        #expect(hub.admit(user: "bob") == .admitted)
        async let remaining: Int = {
            await hub.waitUntilEmpty()
            return hub.count
        }()
        hub.release(user: "alice")
        hub.release(user: "bob")
        #expect(await remaining == 0)
    }

    @Test("a cancelled waitUntilEmpty returns while sessions are open")
    func cancelledWait() async {
        let hub = hub()
        #expect(hub.admit(user: "alice") == .admitted)
        let waiter = Task { await hub.waitUntilEmpty() }
        waiter.cancel()
        await waiter.value
        #expect(hub.count == 1)
    }
}
