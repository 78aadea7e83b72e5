import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1 child channel with ``HTTPServerLimits``: the connection is counted by the
/// port's ``ConnectionLimiter`` and kept in bounds by an ``HTTPDoor`` right behind the decoder.
/// Every plain HTTP port of a process uses it (``HTTPServerBuilder/limitedHTTP1(_:server:)``).
public struct LimitedHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    public typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    public let responder: HTTPChannelHandler.Responder
    let limits: HTTPServerLimits
    let limiter: ConnectionLimiter
    let server: String

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let pipeline = channel.pipeline.syncOperations
            try pipeline.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false,
                                                     withOutboundHeaderValidation: false, withEncoderConfiguration: .init(),
                                                     withDecoderLimitConfiguration: limits.decoderLimits)
            let decoder = try pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(HTTPDoor(limits: limits, admitted: limiter.admit(channel), server: server),
                                    position: .after(decoder.handler))
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandler(HTTPConnectionStateHandler(logger: logger))  // graceful shutdown
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    public func handle(value: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 within `limits`; `server` names the port in metrics (`public`, `admin`).
    public static func limitedHTTP1(_ limits: HTTPServerLimits, server: String) -> HTTPServerBuilder {
        let limiter = ConnectionLimiter(limit: limits.maxConnections, server: server)
        return .init { responder in LimitedHTTP1Channel(responder: responder, limits: limits, limiter: limiter, server: server) }
    }
}

extension HTTPServerLimits {
    /// The HTTP decoder's limits: request line and headers together at most `maxHeaderBytes`.
    public var decoderLimits: NIOHTTPDecoderLimitConfiguration {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = maxHeaderBytes
        limits.maxHeaderListSize = maxHeaderBytes
        return limits
    }
}
