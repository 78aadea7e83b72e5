import ParleyTestSupport
import Testing

/// The edge's public port at its limits (docs/security.md, "Doors"): the opening handshake's
/// timeout and head size, the connection cap, and control frames from a client that floods and
/// never reads. Each test runs an edge of its own.
@Suite("ws-edge doors")
struct EdgeDoorTests {
    @Test("a half-sent WebSocket handshake is answered 408 and closed; an oversized one 431")
    func handshakeLimits() async throws {
        let prefix = TestEnvironment.uniquePrefix("edge-door")
        try await withOwnEdge("edge-door", prefix: prefix,
                              extra: ["--http-header-timeout", "300ms", "--http-max-header-bytes", "4096"]) { edge, _ in
            let token = try await signToken(user: uniqueID("half"))
            let half = try await RawConnection.connect(port: edge.port)
            try await half.send("GET /ws?token=\(token) HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n")
            try await half.waitForClose("the half-sent handshake to be closed")
            #expect(half.status == 408)

            let padding = String(repeating: "a", count: 8000)
            let large = try await RawWebSocket.upgrade(port: edge.port, path: "/ws?token=\(token)", headers: [("X-Padding", padding)])
            try await large.connection.waitForClose("the oversized handshake to be closed")
            #expect(large.status == 431)
        }
    }

    @Test("beyond --http-max-connections an upgrade is answered 503 with the reason; a closed session frees its place")
    func connectionCap() async throws {
        let prefix = TestEnvironment.uniquePrefix("edge-cap")
        try await withOwnEdge("edge-cap", prefix: prefix, extra: ["--http-max-connections", "2"]) { edge, edgeID in
            let (first, _) = try await connect(uniqueID("cap"), port: edge.port, edgeID: edgeID)
            let (second, _) = try await connect(uniqueID("cap"), port: edge.port, edgeID: edgeID)
            let refused = try await RawWebSocket.upgrade(port: edge.port, path: "/ws?token=\(try await signToken(user: uniqueID("cap")))")
            try await refused.connection.waitForClose("the upgrade beyond the cap to be closed")
            #expect(refused.status == 503)
            #expect(refused.connection.text.contains("connection limit"))
            #expect(try await second.roundTrip().isEmpty, "the sessions inside the cap stay")

            await first.disconnect()
            // The admitted upgrade is itself the proof: closing it to connect again would race the
            // edge's count of it and could be refused.
            let third = try await eventually("a session in the freed place") { () -> RawWebSocket? in
                let raw = try await RawWebSocket.upgrade(port: edge.port, path: "/ws?token=\(try await signToken(user: uniqueID("cap")))")
                try await waitUntil("an answer") { raw.status != nil }
                if raw.status == 101 { return raw }
                await raw.close()
                return nil
            }
            try await waitUntil("the welcome in the freed place") { third.frames.contains { $0.opcode == 0x1 } }
            await third.close()
            await second.disconnect()
        }
    }

    /// Sends `count` masked ping frames (125-byte payloads) in chunks; stops at the first write
    /// the edge refused (it closed or reset the connection). Returns whether a write was refused.
    func flood(_ socket: RawWebSocket, pings count: Int) async -> Bool {
        let ping = RawWebSocket.frame(opcode: 0x9, Array(repeating: 0x70, count: 125))
        let chunk = Array((0..<500).map { _ in ping }.joined())
        for _ in 0..<(count / 500) {
            do { try await socket.connection.send(chunk) } catch { return true }
        }
        return false
    }

    @Test("pings count in the rate limit: a ping flood from a client that never reads closes it with 1008, another session stays")
    func pingFloodIsRateLimited() async throws {
        let prefix = TestEnvironment.uniquePrefix("edge-pings")
        try await withOwnEdge("edge-pings", prefix: prefix, extra: ["--send-rate", "10", "--send-burst", "20"]) { edge, edgeID in
            let (calm, _) = try await connect(uniqueID("calm"), port: edge.port, edgeID: edgeID)
            let flooder = try await RawWebSocket.upgrade(port: edge.port, path: "/ws?token=\(try await signToken(user: uniqueID("pinger")))")
            try await waitUntil("the welcome") { flooder.frames.contains { $0.opcode == 0x1 } }
            try await flooder.connection.stopReading()
            _ = await flood(flooder, pings: 1000)
            try await flooder.connection.startReading()
            let code = try await eventually("the flooder's close frame") { flooder.closeCode }
            #expect(code == 1008)
            #expect(flooder.frames.filter { $0.opcode == 0xA }.count < 1000, "pings over the rate get no pong")
            try await flooder.connection.waitForClose("the flooder's connection to close")
            #expect(try await calm.roundTrip().isEmpty, "the other session is unaffected")
            await calm.disconnect()
        }
    }

    @Test("a client that floods pings within its rate but never reads is closed at --max-outbound-bytes; another session stays")
    func nonReaderIsBounded() async throws {
        let prefix = TestEnvironment.uniquePrefix("edge-backlog")
        let extra = ["--send-rate", "100000", "--send-burst", "100000", "--max-outbound-bytes", "524288"]
        try await withOwnEdge("edge-backlog", prefix: prefix, extra: extra) { edge, edgeID in
            let (calm, _) = try await connect(uniqueID("calm"), port: edge.port, edgeID: edgeID)
            let overflowsBefore = try await closedSessions("overflow", adminPort: edge.adminPort)
            let flooder = try await RawWebSocket.upgrade(port: edge.port, path: "/ws?token=\(try await signToken(user: uniqueID("pinger")))",
                                                         receiveBuffer: 4096)
            try await waitUntil("the welcome") { flooder.frames.contains { $0.opcode == 0x1 } }
            try await flooder.connection.stopReading()
            // 400,000 pings would queue ~50 MB of pongs without the bound; the kernel's socket
            // buffers on loopback hold a few MB at most.
            #expect(await flood(flooder, pings: 400_000), "the edge closed the connection of the client that does not read")
            // Closed for its backlog (no other test of this process overflows a session), not as a flood.
            let overflows = try await eventually("the overflow close counted") { () -> Double? in
                let count = try await closedSessions("overflow", adminPort: edge.adminPort)
                return count > overflowsBefore ? count : nil
            }
            #expect(overflows == overflowsBefore + 1)
            #expect(try await calm.roundTrip().isEmpty, "the other session is unaffected")
            await flooder.close()
            await calm.disconnect()
        }
    }

    /// `parley_sessions_closed_total{reason}` on the edge's admin port (0 while absent).
    func closedSessions(_ reason: String, adminPort: Int) async throws -> Double {
        let metrics = try await RawHTTP.request(port: adminPort, "/metrics").body
        let name = #"parley_sessions_closed_total{reason="\#(reason)"} "#
        return metrics.split(separator: "\n").first { $0.hasPrefix(name) }.flatMap { Double($0.dropFirst(name.count)) } ?? 0
    }
}
