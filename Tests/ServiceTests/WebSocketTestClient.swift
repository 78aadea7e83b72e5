import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import ParleyTestSupport
import Synchronization

/// A server frame as the client sees it (every field the protocol defines, all optional but `type`).
struct ServerFrameJSON: Decodable, Sendable, Equatable {
    let type: String
    var user: String?
    var session: String?
    var edge: String?
    var id: String?
    var msg: String?
    var code: String?
    var message: String?
    var from: String?
    var to: String?
    var body: String?
    var by: String?
    var status: String?
    var ts: UInt64?
    var device: String?
    var seq: UInt64?
    var conv: String?
    var cseq: UInt64?
    var epoch: String?
    var reset: Bool?
    var title: String?
    var next: String?
    var lastSeen: UInt64?

    /// Reads a frame's JSON (`last_seen` → `lastSeen`).
    static func decode(_ text: String) -> ServerFrameJSON? {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try? decoder.decode(ServerFrameJSON.self, from: Data(text.utf8))
    }
}

/// What a test client received.
enum Received: Sendable, Equatable {
    case frame(ServerFrameJSON)
    /// A text frame that is not a JSON object with a `type`.
    case text(String)
    case binary([UInt8])

    var frame: ServerFrameJSON? {
        if case .frame(let frame) = self { return frame }
        return nil
    }
}

/// A WebSocket connection to the edge driven by a test: frames to send are queued, frames
/// received are kept in order, and the close frame the server sent (if any) is available when
/// the connection ends.
final class WebSocketTestClient: Sendable {
    private enum Outgoing: Sendable {
        case text(String)
        case binary([UInt8])
        case close
    }

    /// What the connection task and the test share.
    private final class Shared: Sendable {
        let received = Mutex<[Received]>([])
        let finished = Atomic<Bool>(false)
    }

    let name: String
    private let outgoing: AsyncStream<Outgoing>.Continuation
    private let shared: Shared
    private let cursor = Mutex(0)
    private let connection: Task<WebSocketCloseFrame?, any Error>

    /// Connects to `ws://127.0.0.1:port/path` (which may carry a query), with `token` in the query
    /// (default) or as a bearer header.
    init(_ name: String, port: Int, path: String = "/ws", token: String?, bearer: Bool = false) {
        self.name = name
        let (stream, continuation) = AsyncStream.makeStream(of: Outgoing.self)
        outgoing = continuation
        let shared = Shared()
        self.shared = shared
        var url = "ws://127.0.0.1:\(port)\(path)"
        var configuration = WebSocketClientConfiguration()
        configuration.maxFrameSize = 1 << 20
        if let token {
            if bearer {
                configuration.additionalHeaders = [.authorization: "Bearer \(token)"]
            } else {
                url += (path.contains("?") ? "&" : "?") + "token=\(token)"
            }
        }
        var logger = Logger(label: "parley.service-test.ws.\(name)")
        logger.logLevel = .critical
        connection = Task { [url, configuration, logger] in
            defer { shared.finished.store(true, ordering: .sequentiallyConsistent) }
            return try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) { inbound, outbound, _ in
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await item in stream {
                            switch item {
                            case .text(let text): try? await outbound.write(.text(text))
                            case .binary(let bytes): try? await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                            case .close:
                                try? await outbound.close(.normalClosure, reason: nil)
                                return
                            }
                        }
                    }
                    do {
                        for try await message in inbound.messages(maxSize: 1 << 20) {
                            let item: Received = switch message {
                            case .text(let text):
                                ServerFrameJSON.decode(text).map(Received.frame) ?? .text(text)
                            case .binary(let buffer): .binary(Array(buffer.readableBytesView))
                            }
                            shared.received.withLock { $0.append(item) }
                        }
                    } catch {
                        // The connection ended abnormally; the close frame (if any) tells the test.
                    }
                    group.cancelAll()
                }
            }
        }
    }

    func send(_ text: String) { outgoing.yield(.text(text)) }
    func sendBinary(_ bytes: [UInt8]) { outgoing.yield(.binary(bytes)) }
    /// Closes the connection from the client side (1000).
    func close() { outgoing.yield(.close) }

    /// Everything received so far.
    var all: [Received] { shared.received.withLock { $0 } }
    /// Every JSON frame received so far.
    var frames: [ServerFrameJSON] { all.compactMap(\.frame) }

    /// The next received item after the ones already taken by `next`.
    func nextItem(timeout: Duration = conditionTimeout) async throws -> Received {
        try await eventually("\(name): the next frame", timeout: timeout, interval: .milliseconds(10)) {
            let position = cursor.withLock { $0 }
            guard let item = shared.received.withLock({ position < $0.count ? $0[position] : nil }) else {
                if isClosed { throw TestTimeout(what: "\(name): a frame, but the connection closed") }
                return nil
            }
            cursor.withLock { $0 = position + 1 }
            return item
        }
    }

    /// The next frame; fails if the next item is not a JSON frame.
    func next(timeout: Duration = conditionTimeout) async throws -> ServerFrameJSON {
        let item = try await nextItem(timeout: timeout)
        guard let frame = item.frame else { throw TestTimeout(what: "\(name): a JSON frame, got \(item)") }
        return frame
    }

    /// Skips frames until one matches; returns it.
    func next(where matches: @Sendable (ServerFrameJSON) -> Bool, timeout: Duration = conditionTimeout) async throws -> ServerFrameJSON {
        let deadline = ContinuousClock.now + timeout
        while true {
            let frame = try await next(timeout: deadline - ContinuousClock.now)
            if matches(frame) { return frame }
        }
    }

    /// Sends a ping and returns every frame received before its pong (the session is alive and
    /// has answered everything sent before the ping).
    func roundTrip(timeout: Duration = conditionTimeout) async throws -> [ServerFrameJSON] {
        send(#"{"type":"ping"}"#)
        var before: [ServerFrameJSON] = []
        let deadline = ContinuousClock.now + timeout
        while true {
            let frame = try await next(timeout: deadline - ContinuousClock.now)
            if frame.type == "pong" { return before }
            before.append(frame)
        }
    }

    /// Waits for the connection to end and returns the server's close frame, if it sent one.
    func closeFrame(timeout: Duration = conditionTimeout) async throws -> WebSocketCloseFrame? {
        let connection = connection
        return try await withTimeout(timeout, "\(name) to be closed") { try await connection.value }
    }

    /// Whether the connection has ended.
    var isClosed: Bool { shared.finished.load(ordering: .sequentiallyConsistent) }

    /// Ends the connection (client close) and waits for it.
    func disconnect() async {
        close()
        outgoing.finish()
        _ = try? await closeFrame(timeout: .seconds(10))
    }
}
