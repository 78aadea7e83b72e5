@testable import Edge
import Foundation
import Testing

/// The pure rules behind the public port's exposure (ServiceTests' EdgeExposureTests check them
/// on a running edge): canonical paths, origins, loopback listeners, the API key.
struct ExposureRulesTests {
    @Test("canonical paths pass; encoded, control, dotted and empty segments are refused")
    func paths() {
        for path in ["/", "/ws", "/index.html", "/api/whoami", "/a-b_c.d~e/f"] {
            #expect(PublicRequestRules.refusal(path: path) == nil, "\(path)")
        }
        for path in ["/%6detrics", "/index.html%00.js", "/./metrics", "/../x", "/a/./b", "/a/..", "/sp ace", "/ü", "/a\u{0}b", "metrics", ""] {
            #expect(PublicRequestRules.refusal(path: path) == .badRequest, "\(path.debugDescription)")
        }
        for path in ["//metrics", "/metrics/", "/a//b"] {
            #expect(PublicRequestRules.refusal(path: path) == .notFound, "\(path)")
        }
    }

    @Test("the CSP's connect-src names the request's host only when it is a plain host[:port]")
    func cspHost() {
        func policy(_ host: String?) -> String {
            PublicRequestRules.headers(host: host).first { $0.0 == .contentSecurityPolicy }?.1 ?? ""
        }
        #expect(policy("chat.example.com").contains("connect-src 'self' ws://chat.example.com wss://chat.example.com;"))
        #expect(policy("[::1]:8080").contains("ws://[::1]:8080 "))
        #expect(policy("evil; script-src *").contains("connect-src 'self';"))
        #expect(policy(nil).contains("connect-src 'self';"))
    }

    @Test("origins: same host by default, a list, or any; bad settings are refused")
    func origins() throws {
        let same = try #require(OriginPolicy(setting: ""))
        #expect(same.allows(origin: nil, host: "chat.example.com"))
        #expect(same.allows(origin: "https://chat.example.com", host: "chat.example.com"))
        #expect(same.allows(origin: "https://Chat.Example.com:443", host: "chat.example.com"))
        #expect(same.allows(origin: "http://127.0.0.1:8080", host: "127.0.0.1:8080"))
        #expect(!same.allows(origin: "http://127.0.0.1:8081", host: "127.0.0.1:8080"))
        #expect(!same.allows(origin: "https://evil.example", host: "chat.example.com"))
        #expect(!same.allows(origin: "null", host: "chat.example.com"))
        #expect(!same.allows(origin: "HTTPS://evil.example", host: "chat.example.com"))
        // No web page has these origins (clients that are no browser send what they like).
        #expect(same.allows(origin: "ws://127.0.0.1", host: "127.0.0.1:8080"))
        #expect(same.allows(origin: "capacitor://localhost", host: "chat.example.com"))
        #expect(!same.allows(origin: "https://chat.example.com", host: nil))
        let list = try #require(OriginPolicy(setting: " https://chat.example.com , http://localhost:5173"))
        #expect(list.allows(origin: "https://chat.example.com:443", host: "other"))
        #expect(list.allows(origin: "http://localhost:5173", host: "other"))
        #expect(!list.allows(origin: "http://chat.example.com", host: "chat.example.com"))
        #expect(try #require(OriginPolicy(setting: "*")).allows(origin: "https://evil.example", host: "x"))
        for bad in ["chat.example.com", "ftp://x", "https://", "https://a b", "https://x:0", "https://x:99999"] {
            #expect(OriginPolicy(setting: bad) == nil, "\(bad)")
        }
    }

    @Test("loopback listeners: 127.0.0.0/8, ::1, localhost")
    func loopback() {
        for host in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"] { #expect(EdgeConfiguration.isLoopback(host), "\(host)") }
        for host in ["0.0.0.0", "10.0.0.1", "::", "128.0.0.1", "127.0.0", "localhost.example.com", "127.0.0.256"] {
            #expect(!EdgeConfiguration.isLoopback(host), "\(host)")
        }
    }

    @Test("the API key: read from a file without its newline, compared whole; short or missing keys are refused")
    func apiKey() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("parley-key-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "0123456789abcdefghijklmnop\n".write(toFile: path, atomically: true, encoding: .utf8)
        let key = try APIKey(file: path)
        #expect(key.accepts(authorization: "Bearer 0123456789abcdefghijklmnop"))
        #expect(!key.accepts(authorization: "Bearer 0123456789abcdefghijklmno"))
        #expect(!key.accepts(authorization: "Bearer 0123456789abcdefghijklmnopq"))
        #expect(!key.accepts(authorization: "0123456789abcdefghijklmnop"))
        #expect(!key.accepts(authorization: nil))
        try "short\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try APIKey(file: path) }
        #expect(throws: (any Error).self) { try APIKey(file: path + ".missing") }
    }
}
