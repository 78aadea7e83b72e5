import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import ParleyServiceKit

/// The edge's connections: HTTP/1 for the API and the web client, and WebSocket upgrades on
/// `/ws` (a valid token) and `/read` (seed mode), each from an allowed `Origin`. An admitted upgrade puts a
/// ``SessionChannelHandler`` in the channel pipeline and ends this connection's task: a session
/// is then NIO handlers and a ``Session`` object, not a parked Swift task (tasks cost ~30 KB per
/// idle session, measured). A refused upgrade reaches the router as a plain request, whose route
/// answers it (401 without a valid token, 400 for bad connect parameters or a bad seed user, 503
/// while shutting down).
///
/// Every connection is counted against `--http-max-connections` (sessions included) and kept
/// within the HTTP limits by an ``HTTPDoor`` until it becomes a WebSocket: a connection beyond
/// the cap has its request (an upgrade too) answered 503 before anything else happens.
struct EdgeChildChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        case webSocket
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    let responder: Responder
    let edge: EdgeContext
    let limiter: ConnectionLimiter

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let maxFrame = edge.configuration.limits.maxFrameBytes
            let limits = edge.configuration.common.httpLimits
            let door = NIOLoopBound(HTTPDoor(limits: limits, admitted: limiter.admit(channel), upgrades: true, server: "public"),
                                    eventLoop: channel.eventLoop)
            // Who the gate admitted (the token is verified once, there); only admitted upgrades
            // reach the upgrader.
            let admitted = NIOLoopBoundBox<SessionRequest?>(nil, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: maxFrame,
                shouldUpgrade: { channel, _ in
                    channel.eventLoop.makeSucceededFuture(admitted.value.map { request in
                        HTTPHeaders(request.subprotocol.map { [("Sec-WebSocket-Protocol", $0)] } ?? [])
                    })
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let admitted = admitted.value else {
                            throw NIOWebSocketUpgradeError.unsupportedWebSocketTarget
                        }
                        let pipeline = channel.pipeline.syncOperations
                        pipeline.removeHandler(door.value, promise: nil)
                        try pipeline.addHandler(NIOWebSocketFrameAggregator(
                            minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024, maxAccumulatedFrameSize: maxFrame))
                        try pipeline.addHandler(SessionChannelHandler(edge: edge, request: admitted, logger: logger))
                        return .webSocket
                    }
                })
            let upgrade = NIOTypedHTTPServerUpgradeConfiguration<UpgradeResult>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        door.value.upgradeDeclined()
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(logger: logger))
                        return .http(try NIOAsyncChannel(wrappingChannelSynchronously: channel,
                                                         configuration: .init(isOutboundHalfClosureEnabled: true)))
                    }
                })
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: upgrade)
            configuration.enablePipelining = false  // NIOAsyncChannel serialises requests
            configuration.enableErrorHandling = false  // Hummingbird answers errors
            configuration.enableResponseHeaderValidation = false  // HTTPTypes validates
            configuration.decoderConfiguration = limits.decoderLimits
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            // NIO's upgrade handler closes the connection of a refused upgrade without an answer;
            // the gate turns such a request into a plain one, so the router answers it.
            let decoder = try channel.pipeline.syncOperations.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let gate = UpgradeGate { head in
                EdgeRoutes.admission(head, edge: edge, on: channel.eventLoop).map { request in
                    admitted.value = request
                    return request != nil
                }
            }
            try channel.pipeline.syncOperations.addHandler(gate, position: .after(decoder.handler))
            // Behind the gate: it sees an upgrade only once the gate admitted it.
            try channel.pipeline.syncOperations.addHandler(door.value, position: .after(gate))
            return Value(upgradeResult: result, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .webSocket:
                return  // the session lives on in the pipeline
            case .http(let channel):
                await handleHTTP(asyncChannel: channel, logger: logger)
            }
        } catch {
            logger.debug("connection setup failed", metadata: ["parley.error": "\(error)"])
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 plus the edge's WebSocket sessions (see ``EdgeChildChannel``).
    static func edge(_ edge: EdgeContext) -> HTTPServerBuilder {
        let limiter = ConnectionLimiter(limit: edge.configuration.common.httpLimits.maxConnections, server: "public")
        return .init { responder in EdgeChildChannel(responder: responder, edge: edge, limiter: limiter) }
    }
}

/// Strips the upgrade headers of requests that may not upgrade; removes itself once an
/// admitted upgrade passes (the connection becomes a WebSocket). While a decision is pending
/// (the identity provider's keys are being fetched) it holds what arrives after the head.
private final class UpgradeGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    /// Parts held while a decision is pending; more closes the connection.
    private static let maxHeld = 16

    private let admits: @Sendable (HTTPRequestHead) -> EventLoopFuture<Bool>
    private var held: [NIOAny]?
    private var removed = false

    init(admits: @escaping @Sendable (HTTPRequestHead) -> EventLoopFuture<Bool>) { self.admits = admits }

    func handlerRemoved(context: ChannelHandlerContext) { removed = true }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if var parts = held {
            parts.append(data)
            held = parts
            if parts.count > Self.maxHeld { context.close(promise: nil) }
            return
        }
        guard case .head(var head) = unwrapInboundIn(data), head.headers.contains(name: "upgrade") else {
            context.fireChannelRead(data)
            return
        }
        held = []
        admits(head).assumeIsolated().whenComplete { [self] result in
            let parts = held ?? []
            held = nil
            guard !removed else { return }
            if case .success(true) = result {
                context.fireChannelRead(data)
                parts.forEach(context.fireChannelRead)
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            } else {
                head.headers.remove(name: "upgrade")
                head.headers.replaceOrAdd(name: "connection", value: "close")
                context.fireChannelRead(wrapInboundOut(.head(head)))
                parts.forEach(context.fireChannelRead)
            }
        }
    }
}
