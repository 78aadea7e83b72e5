import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket

/// The edge's connections: HTTP/1 for the API and the web client, and WebSocket upgrades on
/// `/ws` (a valid token) and `/read` (seed mode), each from an allowed `Origin`. An admitted upgrade puts a
/// ``SessionChannelHandler`` in the channel pipeline and ends this connection's task: a session
/// is then NIO handlers and a ``Session`` object, not a parked Swift task (tasks cost ~30 KB per
/// idle session, measured). A refused upgrade reaches the router as a plain request, whose route
/// answers it (401 without a valid token, 400 for bad connect parameters or a bad seed user, 503
/// while shutting down).
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

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let maxFrame = edge.configuration.limits.maxFrameBytes
            // Who the gate admitted (the token is verified once, there); only admitted upgrades
            // reach the upgrader.
            let admitted = NIOLoopBoundBox<SessionRequest?>(nil, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: maxFrame,
                shouldUpgrade: { channel, _ in
                    channel.eventLoop.makeSucceededFuture(admitted.value == nil ? nil : HTTPHeaders())
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let admitted = admitted.value else {
                            throw NIOWebSocketUpgradeError.unsupportedWebSocketTarget
                        }
                        let pipeline = channel.pipeline.syncOperations
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
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            // NIO's upgrade handler closes the connection of a refused upgrade without an answer;
            // the gate turns such a request into a plain one, so the router answers it.
            let decoder = try channel.pipeline.syncOperations.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(
                UpgradeGate { head in
                    admitted.value = nil
                    guard EdgeRoutes.originAllowed(origin: head.headers.first(name: "origin"), host: head.headers.first(name: "host"),
                                                   edge: edge) else { return false }
                    admitted.value = try? EdgeRoutes.sessionRequest(URI(head.uri), authorization: head.headers.first(name: "authorization"),
                                                                    edge: edge).get()
                    return admitted.value != nil
                }, position: .after(decoder.handler))
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
        .init { responder in EdgeChildChannel(responder: responder, edge: edge) }
    }
}

/// Strips the upgrade headers of requests that may not upgrade; removes itself once an
/// admitted upgrade passes (the connection becomes a WebSocket).
private final class UpgradeGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let admits: @Sendable (HTTPRequestHead) -> Bool

    init(admits: @escaping @Sendable (HTTPRequestHead) -> Bool) { self.admits = admits }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data), head.headers.contains(name: "upgrade") else {
            context.fireChannelRead(data)
            return
        }
        if admits(head) {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } else {
            head.headers.remove(name: "upgrade")
            head.headers.replaceOrAdd(name: "connection", value: "close")
            context.fireChannelRead(wrapInboundOut(.head(head)))
        }
    }
}
