@testable import Edge
import Foundation
import Metrics
import NIOCore
import NIOPosix
import NIOWebSocket
import ParleyProtocol
import Synchronization
import Testing

/// A session on a real socket of a real event loop, fed by two threads at once.
@Suite("LoopOutbox across threads")
struct LoopOutboxThreadsTests {
    @Test("deliveries and settled sends handed over by two threads in lockstep all arrive, each thread's in order",
          .timeLimit(.minutes(1)))
    func twoThreads() async throws {
        let count = 500
        let server = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let accepted = server.next().makePromise(of: LoopOutbox.self)
        let listener = try await ServerBootstrap(group: server)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WebSocketFrameEncoder())
                    let outbox = LoopOutbox(eventLoop: channel.eventLoop, reports: RecordedReports(),
                                            messagesOut: Counter(label: "parley_test_messages_out_total"))
                    let settings = SessionSettings(edge: "edge-1", queueLimit: 4 * count, syncWindow: 1000, syncAckTimeout: .seconds(30),
                                                   maxHeld: 1024, legacyAckLimit: 4096)
                    let session = Session(id: "s", user: "alice", kind: .v1, channel: channel, settings: settings, reports: RecordedReports())
                    outbox.sessions.add(session)
                    // The stream starts empty: live entries go out from seq 1.
                    session.startStream(since: nil, epoch: nil)
                    _ = session.receive([], page: SyncPage(epoch: "e1", head: 0, after: 0, more: false, reset: false), epoch: nil)
                    accepted.succeed(outbox)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let received = ReceivedFrames(expected: 2 * count, promise: client.next().makePromise())
        let connection = try await ClientBootstrap(group: client)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WebSocketFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(FrameCollector(received))
                }
            }
            .connect(host: "127.0.0.1", port: try #require(listener.localAddress?.port)).get()
        let outbox = try await accepted.futureResult.get()

        // Each thread hands over its i-th item only after the other handed over its (i-1)-th:
        // the two threads' hand-overs interleave all the way, while the loop drains.
        let entries = (1...UInt64(count)).map { messageEntry($0) }
        let lockstep = Lockstep()
        Thread.detachNewThread {
            for (i, entry) in entries.enumerated() {
                lockstep.waitForB(atLeast: i)
                outbox.hand(.deliver([DeliverEnvelope(user: "alice", entries: [entry])]))
                lockstep.a.store(i + 1, ordering: .releasing)
            }
        }
        Thread.detachNewThread {
            for i in 0..<count {
                lockstep.waitForA(atLeast: i)
                outbox.hand(.settled(SettledSend(session: "s", clientID: "s\(i)", msg: "x", conv: "dm:alice:bob", ts: 1, accepted: true)))
                lockstep.b.store(i + 1, ordering: .releasing)
            }
        }

        let frames = try await received.promise.futureResult.get()
        #expect(frames.filter { $0.type == "message" }.map(\.msg) == entries.map(\.msg))
        #expect(frames.filter { $0.type == "sent" }.map(\.id) == (0..<count).map { "s\($0)" })
        #expect(frames.count == 2 * count)
        let firstSent = try #require(frames.firstIndex { $0.type == "sent" })
        let lastMessage = try #require(frames.lastIndex { $0.type == "message" })
        #expect(firstSent < lastMessage, "the two streams overlapped on the session")

        try await connection.close()
        try await listener.close()
        try await client.shutdownGracefully()
        try await server.shutdownGracefully()
    }
}

/// Two threads' progress: how many items each handed over.
private final class Lockstep: Sendable {
    let a = Atomic<Int>(0)
    let b = Atomic<Int>(0)

    func waitForA(atLeast n: Int) { while a.load(ordering: .acquiring) < n { sched_yield() } }
    func waitForB(atLeast n: Int) { while b.load(ordering: .acquiring) < n { sched_yield() } }
}

/// The text frames a client received; completes `promise` at `expected` frames.
private final class ReceivedFrames: Sendable {
    let expected: Int
    let promise: EventLoopPromise<[ReceivedFrame]>
    private let frames = Mutex<[ReceivedFrame]>([])

    init(expected: Int, promise: EventLoopPromise<[ReceivedFrame]>) {
        self.expected = expected
        self.promise = promise
    }

    func add(_ frame: ReceivedFrame) {
        let all = frames.withLock { frames -> [ReceivedFrame]? in
            frames.append(frame)
            return frames.count == expected ? frames : nil
        }
        if let all { promise.succeed(all) }
    }
}

private final class FrameCollector: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame

    private let received: ReceivedFrames

    init(_ received: ReceivedFrames) { self.received = received }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard frame.opcode == .text else { return }
        do {
            received.add(try JSONDecoder().decode(ReceivedFrame.self, from: Data(frame.data.readableBytesView)))
        } catch {
            received.promise.fail(error)
        }
    }
}
