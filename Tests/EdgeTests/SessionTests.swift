@testable import Edge
import NIOCore
import NIOEmbedded
import NIOWebSocket
import ParleyProtocol
import Testing

@Suite("Session")
struct SessionTests {
    @Test("queued frames leave in order with one flush; send writes at once")
    func queueAndFlush() throws {
        let s = try EmbeddedSession(user: "alice")
        #expect(s.session.queue(.frame(.pong)))
        #expect(s.session.queue(.frame(.presence(PresenceStatus(user: "bob", status: .online)))))
        #expect(s.session.queue(.raw("plain text")))
        #expect(try s.written().isEmpty, "nothing leaves before the flush")
        #expect(s.session.hasWaiting)
        s.session.flush()
        let frames = try s.written()
        #expect(frames.map(\.text) == [#"{"type":"pong"}"#, #"{"type":"presence","user":"bob","status":"online"}"#, "plain text"])
        #expect(s.probe.flushes == 1)
        #expect(!s.session.hasWaiting)

        s.session.send(.frame(.pong))
        #expect(try s.received() == [ReceivedFrame(type: "pong")])
        #expect(s.probe.flushes == 2)
    }

    @Test("a session with queue-limit frames not yet written is closed at once, without a close frame")
    func overflow() throws {
        let s = try EmbeddedSession(user: "alice", queueLimit: 3)
        s.probe.holding = true  // the client stopped reading: writes do not complete
        s.session.send(.frame(.pong))
        s.session.send(.frame(.pong))
        #expect(s.session.queue(.frame(.pong)), "two unwritten and one queued: at the limit")
        #expect(!s.session.queue(.frame(.pong)), "a fourth is over it")
        #expect(s.session.end == .closedByEdge(.overflow))
        #expect(!s.channel.isActive)
        #expect(!s.session.hasWaiting, "what was queued is dropped")
        #expect(!s.session.queue(.frame(.pong)))
    }

    @Test("frames whose write completed no longer count against the limit")
    func writtenFramesFreeTheQueue() throws {
        let s = try EmbeddedSession(user: "alice", queueLimit: 2)
        for _ in 0..<10 { s.session.send(.frame(.pong)) }
        #expect(s.session.isOpen)
        #expect(try s.written().count == 10)
    }

    @Test("the edge's close: queued frames, then a close frame with the reason's code and text, then the connection")
    func closeByEdge() throws {
        let s = try EmbeddedSession(user: "alice")
        s.session.queue(.frame(.pong))
        s.session.close(.goingAway)
        let frames = try s.written()
        #expect(frames.map(\.opcode) == [.text, .connectionClose])
        #expect(frames.last?.close?.code == 1001)
        #expect(frames.last?.close?.reason == "server going away")
        #expect(!s.channel.isActive)
        #expect(s.session.end == .closedByEdge(.goingAway))

        s.session.close(.flood)
        #expect(s.session.end == .closedByEdge(.goingAway), "the first reason stays")
        #expect(!s.session.queue(.frame(.pong)))
        #expect(try s.written().isEmpty)
    }

    @Test("the client's close: its code is echoed and the session ended by the client, not by the edge")
    func closeByClient() throws {
        let s = try EmbeddedSession(user: "alice")
        s.session.closedByClient(code: .init(codeNumber: 4000))
        let frames = try s.written()
        #expect(frames.count == 1)
        #expect(frames.first?.close?.code == 4000)
        #expect(s.session.end == .closedByClient)
        #expect(!s.channel.isActive)
        #expect(s.session.connectionClosed() == .closedByClient)

        s.session.close(.goingAway)
        #expect(try s.written().isEmpty, "a session the client closed gets no close frame of the edge's")
        #expect(s.session.end == .closedByClient)
    }

    @Test("the client answering the edge's close frame is not echoed")
    func clientAnswersEdgeClose() throws {
        let s = try EmbeddedSession(user: "alice")
        s.session.close(.unresponsive)
        s.session.closedByClient(code: .normalClosure)
        #expect(try s.written().compactMap(\.close?.code) == [1001])
        #expect(s.session.end == .closedByEdge(.unresponsive))
    }

    @Test("a connection gone without a close frame ended as connectionLost")
    func connectionLost() throws {
        let s = try EmbeddedSession(user: "alice")
        #expect(s.session.connectionClosed() == .connectionLost)
        #expect(!s.session.isOpen)
        #expect(!s.session.queue(.frame(.pong)))
    }

    @Test("replay frames do not count against the queue limit; live frames still do")
    func replayFramesUncounted() throws {
        let s = try EmbeddedSession(user: "alice", queueLimit: 2)
        s.probe.holding = true
        for _ in 0..<10 { #expect(s.session.queue(.frame(.pong), live: false)) }
        s.session.flush()
        #expect(s.session.queue(.frame(.pong)))
        #expect(s.session.queue(.frame(.pong)), "ten replay frames unwritten, two live ones queued: at the limit")
        #expect(!s.session.queue(.frame(.pong)))
        #expect(s.session.end == .closedByEdge(.overflow))
    }

    @Test("flush(then:) runs its action once everything queued before was written, at once when nothing is pending")
    func flushThen() throws {
        let s = try EmbeddedSession(user: "alice")
        var runs = 0
        s.session.flush { runs += 1 }
        #expect(runs == 1, "nothing queued or unwritten")

        s.probe.holding = true
        s.session.queue(.frame(.pong))
        s.session.flush { runs += 1 }
        #expect(runs == 1, "the write has not completed")
        s.session.flush { runs += 1 }
        #expect(runs == 1, "nothing new queued, but the earlier write has not completed")
        s.probe.release()
        #expect(runs == 3)
        #expect(try s.written().count == 1)
    }

    @Test("a session's kind: the device it moves and the one it named")
    func kinds() {
        #expect(Session.Kind.v2(device: "phone").device == "phone")
        #expect(Session.Kind.v2(device: "phone").namedDevice == "phone")
        #expect(Session.Kind.v1.device == "~v1" && Session.Kind.v1.namedDevice == nil)
        #expect(Session.Kind.seed.device == "~v1" && Session.Kind.seed.namedDevice == nil)
    }

    @Test("a ping round pings a session heard from, and reports one silent since the last round")
    func pingRound() throws {
        let s = try EmbeddedSession(user: "alice")
        #expect(s.session.pingRound(), "a new session counts as heard from")
        #expect(try s.written().map(\.opcode) == [.ping])
        #expect(!s.session.pingRound(), "silent for a whole round")
        s.session.heardFrom()
        #expect(s.session.pingRound())
    }
}
