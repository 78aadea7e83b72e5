import Foundation
import Testing

/// Static checks of compose/nginx.conf, the load balancer in front of the ws-edge replicas.
@Suite("nginx load balancer")
struct NginxTests {
    static let path = "compose/nginx.conf"

    /// A directive of the config: its words, and the block it opens (if any).
    struct Directive {
        let words: [String]
        let block: [Directive]?
        var name: String { words.first ?? "" }
        var arguments: [String] { Array(words.dropFirst()) }
    }

    let directives: [Directive]
    let compose: ComposeFile

    init() throws {
        directives = try NginxTests.parse(try Repo.read(Self.path))
        compose = try ComposeFile(ComposeFile.mainPath)
    }

    /// A small parser of nginx's syntax: words, quoted strings, `;`, `{ }` and `#` comments.
    static func parse(_ text: String) throws -> [Directive] {
        var tokens: [String] = []
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character.isWhitespace { index = text.index(after: index); continue }
            if character == "#" {
                index = text[index...].firstIndex(of: "\n") ?? text.endIndex
                continue
            }
            if character == ";" || character == "{" || character == "}" {
                tokens.append(String(character)); index = text.index(after: index); continue
            }
            if character == "\"" || character == "'" {
                let start = text.index(after: index)
                guard let end = text[start...].firstIndex(of: character) else { throw DeployCheckError("\(path): unterminated string") }
                tokens.append(String(text[start..<end])); index = text.index(after: end); continue
            }
            var end = index
            while end < text.endIndex, !text[end].isWhitespace, ![";", "{", "}"].contains(text[end]) { end = text.index(after: end) }
            tokens.append(String(text[index..<end])); index = end
        }
        var position = 0
        func block() throws -> [Directive] {
            var result: [Directive] = []
            var words: [String] = []
            while position < tokens.count {
                let token = tokens[position]; position += 1
                switch token {
                case ";": result.append(Directive(words: words, block: nil)); words = []
                case "{": result.append(Directive(words: words, block: try block())); words = []
                case "}": return result
                default: words.append(token)
                }
            }
            return result
        }
        return try block()
    }

    func all(_ name: String, in list: [Directive]? = nil) -> [Directive] {
        (list ?? directives).flatMap { directive -> [Directive] in
            (directive.name == name ? [directive] : []) + all(name, in: directive.block ?? [])
        }
    }

    /// The `location` block whose path is `path` (`location = /ws` or `location /ws`).
    func location(_ path: String) -> Directive? {
        all("location").first { $0.arguments.last == path }
    }

    var edge: (service: ComposeService, port: Int)? {
        compose.services.values.compactMap { service -> (ComposeService, Int)? in
            guard let executable = service.executable, executable.name == "ws-edge",
                  let port = executable.httpPort(service.environment) else { return nil }
            return (service, port)
        }.first
    }

    /// Where a location proxies to, with a `set $variable value` resolved.
    func upstream(of location: Directive) -> String? {
        guard let pass = all("proxy_pass", in: location.block).first?.arguments.first else { return nil }
        var target = pass.replacingOccurrences(of: "http://", with: "")
        for set in all("set") where set.arguments.count == 2 {
            target = target.replacingOccurrences(of: set.arguments[0], with: set.arguments[1])
        }
        return target
    }

    static func seconds(_ text: String) -> Int? {
        let units: [(String, Int)] = [("ms", 0), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            return Int(text.dropLast(suffix.count)).map { $0 * scale }
        }
        return Int(text)
    }

    @Test("/ws is proxied to ws-edge over HTTP/1.1 with Upgrade/Connection headers, Host with its port and long timeouts")
    func webSocketRoute() throws {
        let edge = try #require(edge, "compose.yaml runs no ws-edge")
        for path in ["/ws"] {
            guard let location = location(path) else {
                Issue.record("\(Self.path): no `location = \(path)`")
                continue
            }
            let block = location.block ?? []
            #expect(upstream(of: location) == "\(edge.service.name):\(edge.port)", "\(path) must be proxied to \(edge.service.name):\(edge.port), not \(upstream(of: location) ?? "nothing")")
            #expect(all("proxy_http_version", in: block).first?.arguments == ["1.1"], "\(path): proxy_http_version 1.1")
            let headers = all("proxy_set_header", in: block).reduce(into: [String: String]()) { $0[$1.arguments.first?.lowercased() ?? ""] = $1.arguments.dropFirst().first }
            #expect(headers["upgrade"] == "$http_upgrade", "\(path): proxy_set_header Upgrade $http_upgrade")
            let connection = headers["connection"] ?? ""
            let mapsUpgrade = all("map").contains { $0.arguments.first == "$http_upgrade" && $0.arguments.last == connection }
            #expect(connection.lowercased() == "upgrade" || mapsUpgrade, "\(path): proxy_set_header Connection must be upgrade or mapped from $http_upgrade")
            #expect(headers["host"] == "$http_host",
                    "\(path): Host must be passed with its port ($http_host): ws-edge compares the Origin with it (a location that sets headers drops the server's)")
            let read = all("proxy_read_timeout", in: block).first?.arguments.first.flatMap(Self.seconds) ?? 60
            #expect(read >= 3600, "\(path): proxy_read_timeout must keep idle WebSockets open for at least 1h (\(read) s)")
        }
    }

    @Test("every ws-edge replica is found: runtime DNS through Docker's resolver, or an upstream that re-resolves")
    func discoversReplicas() throws {
        let edge = try #require(edge)
        let passes = all("proxy_pass").compactMap { $0.arguments.first }
        #expect(!passes.isEmpty, "no proxy_pass")
        for pass in passes {
            if pass.contains("$") {
                let resolver = all("resolver").first
                #expect(resolver?.arguments.first == "127.0.0.11", "proxy_pass \(pass) resolves at run time: set `resolver 127.0.0.11` (Docker's DNS)")
                let valid = resolver?.arguments.first { $0.hasPrefix("valid=") }.flatMap { Self.seconds(String($0.dropFirst(6))) }
                #expect(valid != nil && valid! <= 30, "resolver valid= must be short (new replicas are seen after it), e.g. valid=10s")
            } else {
                let name = pass.replacingOccurrences(of: "http://", with: "")
                let upstream = all("upstream").first { $0.arguments.first == name }
                let servers = all("server", in: upstream?.block).filter { $0.arguments.first?.hasPrefix(edge.service.name) == true }
                #expect(!servers.isEmpty && servers.allSatisfy { $0.arguments.contains("resolve") },
                        "proxy_pass \(pass): a static upstream never sees new ws-edge replicas; use a variable or `server ... resolve`")
            }
        }
    }

    @Test("the load balancer publishes the port nginx listens on and mounts this config")
    func composeWiring() throws {
        let balancer = try #require(compose.services.values.first { $0.image?.hasPrefix("nginx") == true })
        let listens = all("listen").compactMap { $0.arguments.first.flatMap { Int($0.split(separator: ":").last ?? "") } }
        let published = balancer.publishedPorts
        #expect(published.count == 1, "the load balancer publishes one port")
        #expect(published.allSatisfy { listens.contains($0.target) }, "published container port \(published.map(\.target)) is not one nginx listens on (\(listens))")
        #expect(balancer.volumes.contains { Repo.normalize("\(compose.folder)/\($0.source)") == Self.path && $0.target.hasPrefix("/etc/nginx/") },
                "the load balancer must mount \(Self.path)")
    }

    @Test("nginx routes to ws-edge's public port only: no location reaches an admin port, the seed's /read is not routed")
    func noAdminRoute() throws {
        let edge = try #require(edge)
        let adminPorts = compose.services.values.compactMap { service in service.executable?.adminPort(service.environment) }
        #expect(!adminPorts.isEmpty)
        let targets = all("location").compactMap(upstream(of:)) + all("proxy_pass").compactMap { $0.arguments.first }
        #expect(!targets.isEmpty, "no proxy_pass")
        for target in targets {
            let resolved = all("set").filter { $0.arguments.count == 2 }.reduce(target.replacingOccurrences(of: "http://", with: "")) {
                $0.replacingOccurrences(of: $1.arguments[0], with: $1.arguments[1])
            }
            #expect(resolved == "\(edge.service.name):\(edge.port)", "proxy_pass \(target) must lead to ws-edge's public port \(edge.port)")
            for port in adminPorts {
                #expect(!resolved.hasSuffix(":\(port)"), "proxy_pass \(target) reaches admin port \(port)")
            }
        }
        for path in ["/read", "/metrics", "/healthz", "/readyz", "/api/v1"] {
            #expect(location(path).flatMap(upstream(of:)) == nil, "\(path) must not be routed to an edge")
        }
    }

    @Test("nginx -t accepts the config")
    func nginxAcceptsConfig() throws {
        let candidates = [ProcessInfo.processInfo.environment["PARLEY_NGINX_BIN"], "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        guard let nginx = candidates.compactMap({ $0 }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            // scripts/setup.sh installs nginx-light for `make test`: a missing nginx is a failure,
            // never a skipped check.
            Issue.record("nginx is not installed (apt-get install nginx-light): compose/nginx.conf cannot be checked with nginx -t")
            return
        }
        let folder = try temporaryFolder("nginx")
        defer { try? FileManager.default.removeItem(at: folder) }
        var text = try Repo.read(Self.path)
        // Container hostnames resolve only inside compose's network.
        for name in compose.services.keys {
            text = text.replacingOccurrences(of: "\(name):", with: "127.0.0.1:")
        }
        // No root paths: pid and temp folders under the temporary prefix.
        text = text.replacingOccurrences(of: #"(?m)^\s*pid\s+[^;]+;"#, with: "pid \(folder.path)/nginx.pid;", options: .regularExpression)
        let temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map { "\($0)_temp_path \(folder.path)/\($0);" }
        text = text.replacingOccurrences(of: #"(?m)^http\s*\{"#, with: "http {\n" + temps.joined(separator: "\n"), options: .regularExpression)
        let config = folder.appendingPathComponent("nginx.conf")
        try text.write(to: config, atomically: true, encoding: .utf8)
        let result = try runProcess(nginx, ["-t", "-q", "-p", folder.path + "/", "-c", config.path, "-e", folder.appendingPathComponent("error.log").path])
        #expect(result.status == 0, "nginx -t rejects \(Self.path):\n\(result.output)")
    }
}
