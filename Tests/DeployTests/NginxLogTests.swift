import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// compose/nginx.conf run by a real nginx in front of a stopped edge: requests whose token is in
/// the query string get their status in the access log and leave no token in either log, while
/// the error log still reports the failure of a request whose token is in a header.
@Suite("nginx logs")
struct NginxLogTests {
    @Test("no token from a query string reaches nginx's access or error log, even when the edge is down")
    func tokensStayOutOfLogs() async throws {
        let candidates = [ProcessInfo.processInfo.environment["PARLEY_NGINX_BIN"], "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        guard let nginx = candidates.compactMap({ $0 }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            Issue.record("nginx is not installed (apt-get install nginx-light): its logs cannot be checked")
            return
        }
        let folder = try temporaryFolder("nginx-logs")
        defer { try? FileManager.default.removeItem(at: folder) }
        let port = try freePort(), closedPort = try freePort()
        let access = folder.appendingPathComponent("access.log"), errors = folder.appendingPathComponent("error.log")
        var text = try Repo.read(NginxTests.path)
        let replacements = [
            (#"set \$edge [^;]+;"#, "set $edge 127.0.0.1:\(closedPort);"),  // nothing listens there: every proxied request fails
            (#"listen \d+;"#, "listen 127.0.0.1:\(port);"),
            (#"/dev/stdout"#, access.path),
            (#"/dev/stderr"#, errors.path),
            (#"(?m)^\s*pid\s+[^;]+;"#, "pid \(folder.path)/nginx.pid;"),
            (#"(?m)^http\s*\{"#, "http {\n" + ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
                .map { "\($0)_temp_path \(folder.path)/\($0);" }.joined(separator: "\n")),
        ]
        for (pattern, replacement) in replacements {
            text = text.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
        }
        let config = folder.appendingPathComponent("nginx.conf")
        try text.write(to: config, atomically: true, encoding: .utf8)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: nginx)
        process.arguments = ["-p", folder.path + "/", "-c", config.path, "-e", errors.path, "-g", "daemon off;"]
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let base = "http://127.0.0.1:\(port)"
        try await waitFor("nginx listening") { (try? await Self.status("\(base)/lb-healthz")) == 200 }

        let queryTokens = ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJxdWVyeS13cyJ9.c2lnbmF0dXJlLXdz",
                           "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJxdWVyeS1hcGkifQ.c2lnbmF0dXJlLWFwaQ"]
        let headerToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJoZWFkZXIifQ.c2lnbmF0dXJlLWhlYWRlcg"
        #expect(try await Self.status("\(base)/ws?token=\(queryTokens[0])&device=d1") == 502)
        #expect(try await Self.status("\(base)/api/whoami?token=\(queryTokens[1])") == 502)
        #expect(try await Self.status("\(base)/ws?device=d2", headers: ["Authorization": "Bearer \(headerToken)"]) == 502)
        try await waitFor("three proxied requests in the access log") {
            Self.read(access).split(separator: "\n").filter { $0.contains(" 502 ") }.count == 3
        }
        try await waitFor("the header request's upstream error in the error log") {
            Self.read(errors).contains("connect() failed") && Self.read(errors).contains("GET /ws?device=d2")
        }
        for token in queryTokens {
            for (name, log) in [("access", Self.read(access)), ("error", Self.read(errors))] {
                #expect(!log.contains(token.split(separator: ".")[2]), "\(name) log holds a query token:\n\(log)")
            }
        }
        #expect(!Self.read(access).contains("c2lnbmF0dXJlLWhlYWRlcg"), "headers are not logged")
        #expect(Self.read(access).contains("\"GET /ws HTTP/1.1\" 502"), "the access log has the query-token request's status")
    }

    static func status(_ url: String, headers: [String: String] = [:]) async throws -> Int {
        var request = URLRequest(url: URL(string: url)!, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 10)
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }

    static func read(_ url: URL) -> String {
        (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }

    /// Polls `condition` until it holds, for at most 20 s.
    func waitFor(_ what: String, _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while !(await condition()) {
            guard ContinuousClock.now < deadline else { throw DeployCheckError("\(what): not within 20 s") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// A port nothing listens on right now.
    func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw DeployCheckError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
