import Foundation
import Logging
import ParleyProtocol
import ParleyServiceKit

/// ws-edge's settings.
public enum EdgeSettings {
    public static let httpHost = Setting("http-host", .nonEmpty, default: "127.0.0.1",
        help: "address the public server (web client, /ws, login, whoami) binds to")
    public static let httpPort = Setting("http-port", .integer(0...65535), default: "8080",
        help: "public server port (0 picks a free one)")
    public static let edgeID = Setting("edge-id", .string, default: "",
        help: "this edge's id (1-64 of A-Z a-z 0-9 _ . -); empty derives edge-<hostname>-<port>")
    public static let jwtSecret = Setting("jwt-secret", .string, default: "",
        help: "HS256 secret of client tokens (>= 32 bytes); some token key is required unless dev login is on", redaction: .whole)
    public static let devLogin = Setting("dev-login", .boolean, default: "false",
        help: "enable POST /api/login (any name, no password) and, when the edge listens on loopback, the seed's GET /read; never in production")
    public static let tokenTTL = Setting("token-ttl", .duration, default: "24h",
        help: "lifetime of tokens issued by dev login")
    public static let webRoot = Setting("web-root", .string, default: "web",
        help: "folder of the web client served at /; empty disables it")
    public static let maxBodyBytes = Setting("max-body-bytes", .integer(1...1_048_576), default: "4096",
        help: "largest message body in UTF-8 bytes (larger: error too_large)")
    public static let maxFrameBytes = Setting("max-frame-bytes", .integer(64...4_194_304), default: "16384",
        help: "largest WebSocket frame; larger closes the session with 1009")
    public static let maxGroupMembers = Setting("max-group-members", .integer(1...100_000), default: "1000",
        help: "most users a group_create, group_add or group_remove may name (relay-svc's setting of the same name bounds the group)")
    public static let typingInterval = Setting("typing-interval", .duration, default: "2s",
        help: "a session's typing signals per conversation are forwarded at most once per this interval; extra ones are dropped")
    public static let sendRate = Setting("send-rate", .integer(1...100_000), default: "50",
        help: "sustained frames per second per session (token bucket), pings and pongs included")
    public static let sendBurst = Setting("send-burst", .integer(1...100_000), default: "200",
        help: "frames a session may send at once above the rate")
    public static let maxSessionsPerUser = Setting("max-sessions-per-user", .integer(1...1000), default: "10",
        help: "sessions one user may hold on this edge; more are closed with 1008")
    public static let outboundQueue = Setting("outbound-queue", .integer(1...1_000_000), default: "1024",
        help: "live frames queued for one slow session before it is closed (its stream keeps the entries)")
    public static let maxOutboundBytes = Setting("max-outbound-bytes", .integer(524_288...1_073_741_824), default: "1048576",
        help: "bytes waiting in the edge for one session's socket (a client that does not read) before the session is closed")
    public static let syncWindow = Setting("sync-window", .integer(1...1_000_000), default: "1000",
        help: "entries a session's replay may run ahead of its last ack; the next page waits for an ack")
    public static let syncAckTimeout = Setting("sync-ack-timeout", .duration, default: "30s",
        help: "how long a replay may wait for an ack before the session is closed with 1008")
    public static let maxHeld = Setting("max-held", .integer(16...1_000_000), default: "1024",
        help: "entries a session holds while a gap before them is pulled; beyond it the newest are pulled again later")
    public static let v1Unacked = Setting("v1-unacked", .integer(16...1_000_000), default: "4096",
        help: "messages a v1 session (acks by msg id) may leave unacked; beyond it its cursor stops moving until it reconnects")
    public static let heartbeatInterval = Setting("heartbeat-interval", .duration, default: "3s",
        help: "how often the edge tells presence-svc it is alive")
    public static let pingInterval = Setting("ping-interval", .duration, default: "30s",
        help: "how often sessions are pinged; one silent for a whole interval is closed")

    public static let allowedOrigins = Setting("allowed-origins", .string, default: "",
        help: "origins (scheme://host[:port], comma-separated) whose pages may open /ws; empty: the request's own Host only; * any")
    public static let apiKeyFile = Setting("api-key-file", .string, default: "",
        help: "file holding the server API key (admin port, Authorization: Bearer); empty turns the server API off")
    public static let apiSystemUser = Setting("api-system-user", .identifier, default: "system",
        help: "the user the server API publishes and manages groups as when a request names none")

    public static let all: [Setting] = CommonSettings.kafka + [httpHost, httpPort] + CommonSettings.process(adminPort: 9100) + [
        edgeID, jwtSecret, devLogin, tokenTTL, webRoot, maxBodyBytes, maxFrameBytes, maxGroupMembers, typingInterval, sendRate, sendBurst,
        maxSessionsPerUser, outboundQueue, maxOutboundBytes, syncWindow, syncAckTimeout, maxHeld, v1Unacked, heartbeatInterval, pingInterval,
        allowedOrigins, apiKeyFile, apiSystemUser,
    ] + AuthSettings.all
}

/// ws-edge's configuration.
public struct EdgeConfiguration: ServiceConfiguration {
    public static let serviceName = "ws-edge"
    public static let summary = "WebSocket gateway of Parley: client sessions, login, the web client"
    public static var settings: [Setting] { EdgeSettings.all }

    public var common: CommonConfiguration
    /// Where the public server listens.
    public var httpHost: String
    public var httpPort: Int
    public var edgeID: String
    public var logMetadata: Logger.Metadata { ["parley.edge": "\(edgeID)"] }
    public var devLogin: Bool
    /// Token keys and claim rules (``AuthSettings``).
    public var auth: AuthConfiguration
    public var webRoot: String
    public var limits: ProtocolLimits
    public var typingInterval: Duration
    public var sendRate: Int
    public var sendBurst: Int
    public var maxSessionsPerUser: Int
    public var outboundQueue: Int
    public var maxOutboundBytes: Int
    public var syncWindow: Int
    public var syncAckTimeout: Duration
    public var maxHeld: Int
    public var v1Unacked: Int
    public var heartbeatInterval: Duration
    public var pingInterval: Duration
    public var allowedOrigins: OriginPolicy
    /// The server API's key; nil: the API is off.
    public var apiKey: APIKey?
    public var apiSystemUser: String

    /// Whether the seed's `GET /read` (no token) is served: dev login on and a loopback listener only.
    public var servesSeedRead: Bool { devLogin && Self.isLoopback(httpHost) }

    public init(values: SettingValues) throws {
        httpHost = values.string(EdgeSettings.httpHost)
        httpPort = values.int(EdgeSettings.httpPort)
        let port = httpPort
        var id = values.string(EdgeSettings.edgeID)
        if id.isEmpty {
            let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
            id = "edge-\(host)-\(port)"
        }
        guard Identifier.isValid(id) else {
            throw ConfigurationError("invalid PARLEY_EDGE_ID=\(id.debugDescription): expected 1-64 characters of A-Z a-z 0-9 _ . -")
        }
        edgeID = id
        common = try CommonConfiguration(values: values, clientID: "ws-edge-\(id)")
        devLogin = values.bool(EdgeSettings.devLogin)
        auth = try AuthConfiguration(values: values, devLogin: devLogin)
        webRoot = values.string(EdgeSettings.webRoot)
        limits = ProtocolLimits(maxBodyBytes: values.int(EdgeSettings.maxBodyBytes),
                                maxFrameBytes: values.int(EdgeSettings.maxFrameBytes),
                                maxGroupMembers: values.int(EdgeSettings.maxGroupMembers))
        guard limits.maxBodyBytes + 256 <= limits.maxFrameBytes else {
            throw ConfigurationError("invalid PARLEY_MAX_FRAME_BYTES: must exceed PARLEY_MAX_BODY_BYTES by at least 256")
        }
        typingInterval = values.duration(EdgeSettings.typingInterval)
        sendRate = values.int(EdgeSettings.sendRate)
        sendBurst = values.int(EdgeSettings.sendBurst)
        maxSessionsPerUser = values.int(EdgeSettings.maxSessionsPerUser)
        outboundQueue = values.int(EdgeSettings.outboundQueue)
        maxOutboundBytes = values.int(EdgeSettings.maxOutboundBytes)
        syncWindow = values.int(EdgeSettings.syncWindow)
        syncAckTimeout = values.duration(EdgeSettings.syncAckTimeout)
        guard syncAckTimeout >= .milliseconds(100) else {
            throw ConfigurationError("invalid PARLEY_SYNC_ACK_TIMEOUT: at least 100ms")
        }
        maxHeld = values.int(EdgeSettings.maxHeld)
        v1Unacked = values.int(EdgeSettings.v1Unacked)
        heartbeatInterval = values.duration(EdgeSettings.heartbeatInterval)
        guard heartbeatInterval >= .milliseconds(100) else {
            throw ConfigurationError("invalid PARLEY_HEARTBEAT_INTERVAL: at least 100ms")
        }
        pingInterval = values.duration(EdgeSettings.pingInterval)
        guard pingInterval >= .milliseconds(100) else {
            throw ConfigurationError("invalid PARLEY_PING_INTERVAL: at least 100ms")
        }
        guard let origins = OriginPolicy(setting: values.string(EdgeSettings.allowedOrigins)) else {
            throw ConfigurationError("invalid PARLEY_ALLOWED_ORIGINS: expected *, or scheme://host[:port] origins separated by commas")
        }
        allowedOrigins = origins
        let keyFile = values.string(EdgeSettings.apiKeyFile)
        apiKey = keyFile.isEmpty ? nil : try APIKey(file: keyFile)
        apiSystemUser = values.string(EdgeSettings.apiSystemUser)
    }

    /// `localhost`, `127.x.y.z` or `::1`.
    static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare == "localhost" || bare == "::1" { return true }
        let parts = bare.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
