import Foundation
@testable import Offline
import ParleyBackend
import ParleyProtocol
import ParleyRedis
import Testing

/// Measures Redis bytes per stored dm message in one member's stream (not a check: it prints).
/// Run with `PARLEY_MEASURE_STREAM_MEMORY=1 swift test --filter OfflineMemoryMeasurement`.
@Suite("offline-svc stream memory", .serialized, .enabled(if: ProcessInfo.processInfo.environment["PARLEY_MEASURE_STREAM_MEMORY"] != nil))
struct OfflineMemoryMeasurement {
    @Test("bytes per dm message entry over 10,000 entries", arguments: [1, 50])
    func bytesPerEntry(conversations: Int) async throws {
        let count = 10_000
        let stream = try StreamFixture("measured-user", policy: StreamPolicy(maxEntries: count))
        let peers = (0..<conversations).map { _ in uniqueID("peer-user") }
        let before = try await usedMemory(stream.redis)
        for start in stride(from: 0, to: count, by: 1000) {
            try await stream.append((start..<start + 1000).map { index in
                let peer = peers[index % conversations]
                let (from, to) = index.isMultiple(of: 3) ? (stream.user, peer) : (peer, stream.user)
                return messageEntry(from: from, to: to, cseq: UInt64(index / conversations + 1), body: String(repeating: "b", count: 100),
                                    id: UUID().uuidString.lowercased())
            })
        }
        let after = try await usedMemory(stream.redis)
        let keys = stream.keys
        var perKey: [(String, Int)] = []
        for (name, key) in [("stream", keys.stream), ("ids", keys.ids), ("last", keys.last), ("convs", keys.conversations),
                            ("read", keys.read), ("meta", keys.meta)] {
            let reply = try await stream.redis.send(.raw(["MEMORY", "USAGE", RedisArgument(key), "SAMPLES", "0"], keys: [key]))
            perKey.append((name, (try? reply.asInteger()) ?? 0))
        }
        let total = perKey.reduce(0) { $0 + $1.1 }
        let sample = try await stream.sync(after: 0, device: Device.legacy).entries.first.map { String(decoding: $0.json, as: UTF8.self) }
        print("stream memory, \(count) dm entries over \(conversations) conversation(s): MEMORY USAGE total \(total) B = \(total / count) B/entry;",
              perKey.map { "\($0.0) \($0.1 / count) B/entry" }.joined(separator: ", "),
              "; INFO used_memory delta \((after - before) / count) B/entry; first stored entry: \(sample ?? "none")")
        try await stream.clear()
    }

    private func usedMemory(_ redis: RedisClient) async throws -> Int {
        let info = try await redis.send(.raw(["INFO", "memory"])).asString() ?? ""
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("used_memory:") } ?? ""
        return Int(line.dropFirst("used_memory:".count)) ?? 0
    }
}
