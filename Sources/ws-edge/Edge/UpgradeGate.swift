import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

/// HummingbirdWebSocket answers every refused upgrade with a bare 400. Parley promises 401 for
/// a missing or bad token, so this channel puts a gate in front of the upgrade handler: an
/// upgrade request the gate does not admit loses its `Upgrade` header and reaches the router
/// as a plain GET, whose route answers 401.
struct GatedWebSocketChannel: ServerChildChannel {
    typealias Value = HTTP1WebSocketUpgradeChannel.Value

    let inner: HTTP1WebSocketUpgradeChannel
    let admits: @Sendable (HTTPRequestHead) -> Bool

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let decoder = try channel.pipeline.syncOperations.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(UpgradeGate(admits: admits), position: .after(decoder.handler))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with WebSocket upgrades through `router`, gated by `admits`.
    static func gatedWebSocketUpgrade<WebSocketRouter: HTTPResponderBuilder>(
        webSocketRouter router: WebSocketRouter, configuration: WebSocketServerConfiguration,
        admits: @escaping @Sendable (HTTPRequestHead) -> Bool
    ) -> HTTPServerBuilder where WebSocketRouter.Responder.Context: WebSocketRequestContext {
        let webSocketResponder = router.buildResponder()
        return .init { responder in
            GatedWebSocketChannel(
                inner: HTTP1WebSocketUpgradeChannel(
                    responder: responder, webSocketResponder: webSocketResponder,
                    configuration: .init(http1: .init(), ws: configuration)),
                admits: admits)
        }
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
