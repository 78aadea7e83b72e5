import ParleyBackend
import ParleyRedis
import ParleyTestSupport
import Testing

/// `--max-user-sessions` (presence-svc) across edges: a new session beyond the cap closes the
/// user's oldest session wherever it is, with 1008 `replaced` (docs/security.md, "Doors").
@Suite("per-user session cap")
struct SessionCapTests {
    @Test("over the cap across two edges the oldest session is closed with 1008 replaced; the newer ones and other users stay")
    func oldestIsReplaced() async throws {
        let prefix = TestEnvironment.uniquePrefix("cap")
        let presence = try await startPresence(prefix: prefix, extra: ["--max-user-sessions", "2"])
        let edgeA = uniqueID("edge-a"), edgeB = uniqueID("edge-b")
        var started: [RunningService] = [presence]
        let redis = try testRedis()
        do {
            let a = try await startEdge(prefix: prefix, edgeID: edgeA)
            started.append(a)
            let b = try await startEdge(prefix: prefix, edgeID: edgeB)
            started.append(b)
            let user = uniqueID("capped"), other = uniqueID("bystander")
            // One at a time: presence-svc orders a user's sessions by when it saw them connect.
            func connected(_ session: String) async throws {
                try await waitUntil("\(session) in presence") { try await redis.send(.hgetall(RedisKeys.presence(user)))[session] != nil }
            }
            let (oldest, first) = try await connect(user, port: a.port, edgeID: edgeA)
            try await connected(first)
            let (middle, second) = try await connect(user, port: b.port, edgeID: edgeB)
            try await connected(second)
            let (bystander, _) = try await connect(other, port: a.port, edgeID: edgeA)
            let (newest, third) = try await connect(user, port: a.port, edgeID: edgeA)

            let close = try await oldest.closeFrame()
            #expect(close?.closeCode == .policyViolation)
            #expect(close?.reason?.hasPrefix("replaced") == true, "reason: \(close?.reason ?? "none")")
            try await waitUntil("presence to hold the two newer sessions") {
                try await redis.send(.hgetall(RedisKeys.presence(user))) == [second: edgeB, third: edgeA]
            }
            #expect(try await middle.roundTrip().isEmpty)
            #expect(try await newest.roundTrip().isEmpty)
            #expect(try await bystander.roundTrip().isEmpty)
            for client in [middle, newest, bystander] { await client.disconnect() }
        } catch {
            for service in started.reversed() { try? await service.stop() }
            await redis.close()
            throw error
        }
        for service in started.reversed() { try await service.stop() }
        await redis.close()
    }
}
