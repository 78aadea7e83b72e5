/// The limits every HTTP port of a process applies (the edge's public port, the operational
/// port, the admin port): how long a request head and an idle connection may take, how large a
/// request head may be, and how many connections the port holds at once. ``HTTPDoor`` enforces
/// them on each connection, ``ConnectionLimiter`` counts the connections.
public struct HTTPServerLimits: Sendable, Equatable {
    /// A request head (request line and headers) must arrive whole within this time of its first
    /// byte; a WebSocket upgrade is a request head, so this also bounds the opening handshake.
    public var headerTimeout: Duration
    /// A connection with no request in progress, or whose request body stops arriving, is closed
    /// after this time.
    public var idleTimeout: Duration
    /// The largest request head in bytes; a larger one is answered 431 and the connection closed.
    public var maxHeaderBytes: Int
    /// Connections the port holds at once (WebSocket sessions included); beyond it a connection's
    /// request is answered 503 and the connection closed.
    public var maxConnections: Int

    public init(headerTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(60),
                maxHeaderBytes: Int = 16384, maxConnections: Int = 10000) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.maxHeaderBytes = maxHeaderBytes
        self.maxConnections = maxConnections
    }

    /// The limits configured by ``HTTPLimitSettings``.
    init(values: SettingValues) throws {
        self.init(headerTimeout: values.duration(HTTPLimitSettings.headerTimeout),
                  idleTimeout: values.duration(HTTPLimitSettings.idleTimeout),
                  maxHeaderBytes: values.int(HTTPLimitSettings.maxHeaderBytes),
                  maxConnections: values.int(HTTPLimitSettings.maxConnections))
        guard headerTimeout >= .milliseconds(100) else {
            throw ConfigurationError("invalid PARLEY_HTTP_HEADER_TIMEOUT: at least 100ms")
        }
        guard idleTimeout >= .milliseconds(100) else {
            throw ConfigurationError("invalid PARLEY_HTTP_IDLE_TIMEOUT: at least 100ms")
        }
    }
}

/// The settings of ``HTTPServerLimits``, shared by every process (see ``CommonSettings/process(adminPort:)``).
public enum HTTPLimitSettings {
    public static let headerTimeout = Setting("http-header-timeout", .duration, default: "10s",
        help: "a request head (and so a WebSocket handshake) must arrive whole within this time of its first byte, or the connection is closed (408)")
    public static let idleTimeout = Setting("http-idle-timeout", .duration, default: "60s",
        help: "an HTTP connection with no request in progress, or whose body stops arriving, is closed after this time")
    public static let maxHeaderBytes = Setting("http-max-header-bytes", .integer(1024...1_048_576), default: "16384",
        help: "largest request head (request line and headers) in bytes; larger is answered 431 and the connection closed")
    public static let maxConnections = Setting("http-max-connections", .integer(1...1_000_000), default: "10000",
        help: "connections each HTTP port holds at once, WebSocket sessions included; more are answered 503 and closed")

    public static let all: [Setting] = [headerTimeout, idleTimeout, maxHeaderBytes, maxConnections]
}
