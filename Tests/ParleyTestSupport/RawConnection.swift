import NIOCore
import NIOPosix
import Synchronization

/// A bare TCP connection to a server on loopback that records every byte the server sends and
/// whether the server closed it: for checking what a server does with requests no HTTP client
/// would send (half-sent heads, huge headers, idle connections, clients that never read).
public final class RawConnection: Sendable {
    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let bytes = Mutex<[UInt8]>([])
        let closed = Atomic<Bool>(false)

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            bytes.withLock { $0 += buffer.readableBytesView }
        }

        func channelInactive(context: ChannelHandlerContext) {
            closed.store(true, ordering: .sequentiallyConsistent)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)  // a reset by the server
        }
    }

    private let collector: Collector
    private let channel: any Channel

    private init(collector: Collector, channel: any Channel) {
        self.collector = collector
        self.channel = channel
    }

    /// Connects to 127.0.0.1:`port`. `receiveBuffer` shrinks the socket's receive buffer so the
    /// server's writes back up sooner once the connection stops reading (``stopReading()``). With
    /// `halfClosure`, the connection stays writable after the server closed its side.
    public static func connect(port: Int, receiveBuffer: Int? = nil, halfClosure: Bool = false) async throws -> RawConnection {
        let collector = Collector()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: halfClosure)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
        if let receiveBuffer {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer))
        }
        return RawConnection(collector: collector, channel: try await bootstrap.connect(host: "127.0.0.1", port: port).get())
    }

    /// Sends `text` as it is.
    public func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Sends `bytes` as they are; throws once the server closed or reset the connection.
    public func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Stops reading: what the server sends stays in the socket (a client that does not read).
    public func stopReading() async throws {
        try await channel.setOption(.autoRead, value: false).get()
    }

    /// Reads again after ``stopReading()`` (what the server sent before closing stays readable:
    /// a connection it already closed is no error).
    public func startReading() async throws {
        do {
            try await channel.setOption(.autoRead, value: true).get()
        } catch ChannelError.ioOnClosedChannel {
            return
        }
        channel.read()
    }

    /// Everything received so far.
    public var received: [UInt8] { collector.bytes.withLock { $0 } }
    /// Whether the connection is closed (by the server, or after a reset).
    public var isClosed: Bool { collector.closed.load(ordering: .sequentiallyConsistent) }

    /// The status of the server's first response, once its status line arrived.
    public var status: Int? {
        let text = String(decoding: received.prefix(64), as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 "), text.count >= 12 else { return nil }
        return Int(text.dropFirst(9).prefix(3))
    }

    /// The text received so far.
    public var text: String { String(decoding: received, as: UTF8.self) }

    /// Waits until the server closed the connection.
    public func waitForClose(_ what: String) async throws {
        try await waitUntil(what) { self.isClosed }
    }

    public func close() async {
        try? await channel.close()
    }
}
