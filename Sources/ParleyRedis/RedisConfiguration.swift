/// Where the Redis server is and how to talk to it.
///
/// Single-endpoint mode (`redis://host:port`) talks to one server. Cluster mode
/// (`redis+cluster://h1:p1,h2:p2`, ``clusterSeeds`` not empty) learns the slot map from any seed
/// and routes every command to the primary that owns its key's slot (``RedisClient``).
public struct RedisConfiguration: Sendable, CustomStringConvertible {
    /// Host name or IP address (IPv6 without brackets); in cluster mode, the first seed's.
    public var host: String
    /// TCP port (default 6379); in cluster mode, the first seed's.
    public var port: Int
    /// The nodes a cluster-mode client asks for the slot map (any of them will do); empty in
    /// single-endpoint mode.
    public var clusterSeeds: [RedisEndpoint]
    /// Replicas a durable send (``RedisClient/sendDurably(_:)``) waits for with `WAIT` on each
    /// node it wrote to: at least 1 in cluster mode, 0 (no WAIT) by default otherwise.
    public var replicasToWait: Int
    /// How long one `WAIT` waits for ``replicasToWait`` replicas before the send fails (capped
    /// at half of ``commandTimeout``, so the reply always comes before the socket gives up).
    public var replicaTimeout: Duration
    /// Password sent with AUTH on every (re)connect, if any.
    public var password: String?
    /// ACL user name (Redis 6+) sent with AUTH together with ``password``, if any.
    public var username: String?
    /// Database selected with SELECT on every (re)connect (default 0).
    public var database: Int
    /// Most connections the client opens at once; further callers wait their turn.
    public var poolSize: Int
    /// Bound on establishing one TCP connection.
    public var connectTimeout: Duration
    /// Bound on waiting for one reply (socket read/write timeout); after it the connection is discarded.
    public var commandTimeout: Duration

    /// Parses `redis://[[user]:password@]host[:port][/db]` (default port 6379, db 0), or
    /// `redis+cluster://[[user]:password@]host[:port],host[:port],…` (cluster mode: the seeds,
    /// database 0 only).
    ///
    /// User and password may be percent-encoded (`%40` for `@`). IPv6 hosts go in brackets:
    /// `redis://[::1]:6379`. Throws ``RedisError`` with code ``RedisError/Code/invalidURL`` and a
    /// one-line message naming what is wrong, or ``RedisError/Code/invalidConfiguration`` for a
    /// pool size below 1 or a non-positive timeout.
    public init(
        url: String, poolSize: Int = 8, connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(5),
        replicasToWait: Int = 0
    ) throws {
        let parsed = try RedisURL(parsing: url)
        try self.init(
            host: parsed.endpoints[0].host, port: parsed.endpoints[0].port, password: parsed.password, username: parsed.username,
            database: parsed.database, poolSize: poolSize, connectTimeout: connectTimeout, commandTimeout: commandTimeout,
            clusterSeeds: parsed.cluster ? parsed.endpoints : [], replicasToWait: replicasToWait)
    }

    /// A configuration from its parts; throws ``RedisError/Code/invalidConfiguration`` for values out of range.
    public init(
        host: String, port: Int = 6379, password: String? = nil, username: String? = nil, database: Int = 0,
        poolSize: Int = 8, connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(5),
        clusterSeeds: [RedisEndpoint] = [], replicasToWait: Int = 0, replicaTimeout: Duration = .seconds(2)
    ) throws {
        func invalid(_ message: String) -> RedisError { RedisError(code: .invalidConfiguration, message: message) }
        guard !host.isEmpty else { throw invalid("redis host is empty") }
        guard (1...65535).contains(port) else { throw invalid("redis port \(port) is not in 1...65535") }
        guard database >= 0 else { throw invalid("redis database \(database) is negative") }
        guard poolSize >= 1 else { throw invalid("redis pool size \(poolSize) must be at least 1") }
        guard connectTimeout > .zero else { throw invalid("redis connect timeout must be positive") }
        guard commandTimeout > .zero else { throw invalid("redis command timeout must be positive") }
        if username != nil && password == nil { throw invalid("redis user '\(username!)' has no password") }
        if !clusterSeeds.isEmpty && database != 0 { throw invalid("a redis cluster has only database 0, not \(database)") }
        guard (0...16).contains(replicasToWait) else { throw invalid("redis replicas to wait for \(replicasToWait) is not in 0...16") }
        guard replicaTimeout > .zero else { throw invalid("redis replica timeout must be positive") }
        self.host = host
        self.port = port
        self.password = password
        self.username = username
        self.database = database
        self.poolSize = poolSize
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.clusterSeeds = clusterSeeds
        self.replicasToWait = clusterSeeds.isEmpty ? replicasToWait : max(replicasToWait, 1)
        self.replicaTimeout = replicaTimeout
    }

    /// True in cluster mode (``clusterSeeds`` not empty).
    public var isCluster: Bool { !clusterSeeds.isEmpty }

    /// This configuration aimed at one cluster node (same credentials, timeouts and pool size).
    func node(_ endpoint: RedisEndpoint) -> RedisConfiguration {
        var copy = self
        copy.host = endpoint.host
        copy.port = endpoint.port
        return copy
    }

    /// The address as a URL with the password masked, safe for logs: `redis://:***@host:6379/0`,
    /// `redis+cluster://h1:7000,h2:7001`.
    public var description: String {
        var auth = ""
        if password != nil { auth = "\(username ?? ""):***@" }
        if isCluster { return "redis+cluster://\(auth)\(clusterSeeds.map(\.description).joined(separator: ","))" }
        return "redis://\(auth)\(RedisEndpoint(host: host, port: port))/\(database)"
    }
}

/// One server's address.
public struct RedisEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// Host name or IP address (IPv6 without brackets).
    public var host: String
    /// TCP port.
    public var port: Int

    /// An address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, IPv6 in brackets.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The parts of a `redis://` or `redis+cluster://` URL.
struct RedisURL {
    var endpoints: [RedisEndpoint] = []
    var cluster = false
    var username: String?
    var password: String?
    var database = 0

    init(parsing url: String) throws {
        func invalid(_ what: String) -> RedisError {
            RedisError(code: .invalidURL, message: "invalid redis URL '\(RedisURL.masked(url))': \(what)")
        }
        guard let schemeEnd = url.firstRange(of: "://") else {
            throw invalid("expected redis://[[user]:password@]host[:port][/db]")
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        if scheme == "rediss" { throw invalid("TLS (rediss://) is not supported") }
        guard scheme == "redis" || scheme == "redis+cluster" else {
            throw invalid("scheme must be redis:// or redis+cluster://, not \(scheme)://")
        }
        cluster = scheme == "redis+cluster"
        var rest = url[schemeEnd.upperBound...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        if rest.contains("?") { throw invalid("query parameters are not supported") }

        // User info ends at the last '@', so an unencoded '@' or '/' in a password still works.
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                guard let user = RedisURL.percentDecoded(userInfo[..<colon]) else { throw invalid("bad percent-encoding in user") }
                guard let pass = RedisURL.percentDecoded(userInfo[userInfo.index(after: colon)...]) else {
                    throw invalid("bad percent-encoding in password")
                }
                username = user.isEmpty ? nil : user
                password = pass
                if pass.isEmpty { throw invalid("empty password") }
            } else if !userInfo.isEmpty {
                throw invalid("user without password: use redis://user:password@host or redis://:password@host")
            }
        }

        let authority: Substring
        let path: Substring
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        } else {
            authority = rest
            path = ""
        }

        let hosts = cluster ? authority.split(separator: ",", omittingEmptySubsequences: false) : [authority]
        for host in hosts { endpoints.append(try Self.endpoint(host, invalid: invalid)) }
        if !path.isEmpty {
            guard let db = Int(path), db >= 0, path.allSatisfy(\.isASCII) else {
                throw invalid("database '\(path)' is not a non-negative integer")
            }
            database = db
            if cluster && db != 0 { throw invalid("a cluster has only database 0") }
        }
    }

    /// `host[:port]` or `[v6]:port`.
    private static func endpoint(_ authority: Substring, invalid: (String) -> RedisError) throws -> RedisEndpoint {
        let host: String
        var port = 6379
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw invalid("unclosed '[' in IPv6 host") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("unexpected '\(after)' after IPv6 host") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw invalid("missing host") }
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw invalid("port '\(portText)' is not a number in 1...65535")
            }
            port = value
        }
        return RedisEndpoint(host: host, port: port)
    }

    /// The URL with anything between "://" and the last "@" replaced, so errors never print a password.
    static func masked(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://"), let at = url.lastIndex(of: "@"), at >= schemeEnd.upperBound else { return url }
        return String(url[..<schemeEnd.upperBound]) + "***" + String(url[at...])
    }

    /// `%XX` decoding; nil for a malformed escape or invalid UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
