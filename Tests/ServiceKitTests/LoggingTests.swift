import Foundation
import Logging
@testable import ParleyServiceKit
import Testing

@Suite("Logging: JSON lines and redacted settings")
struct LoggingTests {
    @Test func aJSONLineParsesAndCarriesTheFieldsAndMetadata() throws {
        let at = Date(timeIntervalSince1970: 1_764_499_545.123_9)
        let line = JSONLogHandler.line(ts: at, level: .warning, service: "relay-svc", message: "bad \"record\"\n\u{1}",
                                       metadata: ["parley.user": "alice", "parley.offset": .stringConvertible(42), "parley.edge": "edge-1"])
        let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object == ["ts": "2025-11-30T10:45:45.123Z", "level": "warning", "service": "relay-svc", "msg": "bad \"record\"\n\u{1}",
                           "parley.user": "alice", "parley.offset": "42", "parley.edge": "edge-1"])
        #expect(line.hasPrefix(#"{"ts":"2025-11-30T10:45:45.123Z","level":"warning","service":"relay-svc","msg":"#))
        #expect(!line.contains("\n"), "one event is one line")
    }

    @Test func settingsAreShownWithSecretsRedacted() throws {
        let secret = Setting("jwt-secret", .string, default: "", help: "s", redaction: .whole)
        let url = Setting("redis-url", .nonEmpty, default: "redis://127.0.0.1:6379", help: "u", redaction: .urlCredentials)
        let plain = Setting("http-port", .integer(0...65535), default: "1", help: "p")
        #expect(secret.shown("hunter2") == "<redacted>" && secret.shown("") == "")
        #expect(url.shown("redis://app:hunter2@redis:6379/0") == "redis://<redacted>@redis:6379/0")
        #expect(url.shown("redis://redis:6379") == "redis://redis:6379")
        #expect(plain.shown("8080") == "8080")
        let values = SettingValues(values: ["jwt-secret": "hunter2", "redis-url": "redis://:pw@h:1", "http-port": "8080"],
                                   settings: [plain, secret, url])
        #expect(values.shown.map { "\($0.name)=\($0.value)" } == ["http-port=8080", "jwt-secret=<redacted>", "redis-url=redis://<redacted>@h:1"])
    }
}
