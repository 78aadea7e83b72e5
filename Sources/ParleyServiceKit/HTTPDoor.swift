import Metrics
import NIOCore
import NIOHTTP1

/// Keeps one HTTP/1 connection within ``HTTPServerLimits``; sits right behind the HTTP decoder.
///
/// - A request head must arrive whole within `headerTimeout` of its first byte: else 408 and close
///   (a client trickling a head cannot hold the connection by sending a byte now and then).
/// - A connection with no request in progress, or whose request body stops arriving, is closed
///   after `idleTimeout` without an answer.
/// - A head over `maxHeaderBytes` (the decoder's limit, ``HTTPServerLimits/decoderLimits``) is
///   answered 431, any other malformed request 400, and the connection closed.
/// - A connection its port refused (``ConnectionLimiter``) has its first request answered 503.
///
/// While a response is being produced no timer runs: the application answers. An answer of the
/// door itself closes our side only and drops the connection when the client closes too, or after
/// `headerTimeout`: closing a socket whose client is still sending makes the kernel answer with a
/// reset, and the client may then never read the answer.
public final class HTTPDoor: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias InboundOut = HTTPServerRequestPart
    public typealias OutboundIn = HTTPServerResponsePart
    public typealias OutboundOut = HTTPServerResponsePart

    private enum Phase {
        /// Between requests: closed after the idle timeout.
        case idle
        /// Bytes of a request arrived, its head is not complete: closed after the header timeout.
        case head
        /// The head was read, the body is arriving: closed when it stalls for the idle timeout.
        case body
        /// The request was read; the application is answering.
        case responding
        /// An upgrade head passed: the connection is leaving HTTP, everything passes untouched
        /// until the new protocol's handlers remove the door.
        case upgrading
        /// The door answered and is closing the connection; what arrives is dropped.
        case closing
    }

    private let limits: HTTPServerLimits
    private let admitted: Bool
    private let upgrades: Bool
    private let server: String
    private var phase = Phase.idle
    private var responseOpen = false
    private var deadline: NIODeadline?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    /// `admitted`: false when the port is full (the first request is answered 503). `upgrades`:
    /// whether a head carrying `Upgrade` leaves HTTP (a protocol upgrader follows in the
    /// pipeline and removes the door once upgraded). `server` names the port in
    /// `parley_http_closed_total{server,reason}`.
    public init(limits: HTTPServerLimits, admitted: Bool = true, upgrades: Bool = false, server: String) {
        self.limits = limits
        self.admitted = admitted
        self.upgrades = upgrades
        self.server = server
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        arm(.now() + TimeAmount(limits.idleTimeout), context: context)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch phase {
        case .upgrading:
            context.fireChannelRead(data)
            return
        case .closing:
            return
        case .idle, .head, .body, .responding:
            break
        }
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard admitted else {
                answerAndClose(context, .serviceUnavailable, "the server is at its connection limit, retry later\n", reason: "refused")
                return
            }
            if upgrades, head.headers.contains(name: "upgrade") {
                phase = .upgrading
                disarm()
            } else {
                phase = .body
                arm(.now() + TimeAmount(limits.idleTimeout), context: context)
            }
        case .body:
            if phase == .body { arm(.now() + TimeAmount(limits.idleTimeout), context: context) }
        case .end:
            if phase == .body {
                phase = .responding
                disarm()
            }
        }
        context.fireChannelRead(data)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        // Bytes arrived but no head yet: a request started, and its head now has a deadline that
        // later bytes do not move.
        if phase == .idle {
            phase = .head
            arm(.now() + TimeAmount(limits.headerTimeout), context: context)
        }
        context.fireChannelReadComplete()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard phase != .upgrading else {
            context.write(data, promise: promise)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200:
            responseOpen = true
        case .head, .body:
            break
        case .end:
            responseOpen = false
            if phase == .responding {
                phase = .idle
                arm(.now() + TimeAmount(limits.idleTimeout), context: context)
            }
        }
        context.write(data, promise: promise)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if phase == .closing, error is ByteToMessageDecoderError { return }  // input after a malformed request
        guard let error = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        if error == .headerOverflow {
            answerAndClose(context, .requestHeaderFieldsTooLarge, "request head larger than \(limits.maxHeaderBytes) bytes\n",
                           reason: "header_too_large")
        } else {
            answerAndClose(context, .badRequest, "malformed request\n", reason: "bad_request")
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if phase == .closing, let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The upgrade of the head that passed did not happen (the upgrader declined it): the
    /// connection stays HTTP, and that request is being answered.
    public func upgradeDeclined() {
        guard phase == .upgrading else { return }
        phase = .responding
    }

    private func timeout(_ context: ChannelHandlerContext) {
        switch phase {
        case .head:
            answerAndClose(context, .requestTimeout, "request head not received in time\n", reason: "header_timeout")
        case .idle, .body:
            closed("idle_timeout")
            context.close(promise: nil)
        case .closing:
            context.close(promise: nil)
        case .responding, .upgrading:
            break
        }
    }

    /// Answers `status` unless a response is under way, closes our side, and closes the
    /// connection when the client closes its side or after the header timeout.
    private func answerAndClose(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ text: String, reason: String) {
        phase = .closing
        closed(reason)
        arm(.now() + TimeAmount(limits.headerTimeout), context: context)
        guard !responseOpen else {
            context.close(promise: nil)
            return
        }
        let body = context.channel.allocator.buffer(string: text)
        let headers = HTTPHeaders([("Connection", "close"), ("Content-Type", "text/plain; charset=utf-8"),
                                   ("Content-Length", "\(body.readableBytes)")])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
        }
    }

    private func closed(_ reason: String) {
        Counter(label: "parley_http_closed_total", dimensions: [("server", server), ("reason", reason)]).increment()
    }

    /// Makes `deadline` the time the current phase ends; the timer only moves earlier, a later
    /// deadline is picked up when the timer fires.
    private func arm(_ deadline: NIODeadline, context: ChannelHandlerContext) {
        self.deadline = deadline
        if let timerDeadline, timerDeadline <= deadline, timer != nil { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timerDeadline = nil
            guard let current = self.deadline else { return }
            if current > .now() {
                arm(current, context: context)
            } else {
                timeout(context)
            }
        }
    }

    private func disarm() {
        deadline = nil
    }
}

@available(*, unavailable)
extension HTTPDoor: Sendable {}
