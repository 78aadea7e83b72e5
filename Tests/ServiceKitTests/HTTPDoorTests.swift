import Logging
import ParleyServiceKit
import ParleyTestSupport
import ServiceLifecycle
import Synchronization
import Testing

/// The HTTP limits of every process's operational port (``OperationalServer`` with
/// ``HTTPServerLimits``), against the real server on a loopback port with raw sockets.
@Suite("HTTP door limits")
struct HTTPDoorTests {
    /// Runs the operational server of a configuration with `flags` and gives `body` its port.
    func withOperationalServer(_ flags: [String], _ body: (Int) async throws -> Void) async throws {
        guard case .run(let configuration) = try SampleConfiguration.load(arguments: ["--admin-port", "0"] + flags,
                                                                          environment: ["PARLEY_SECRET": "s"]) else {
            Issue.record("expected a configuration")
            return
        }
        _ = ParleyMetrics.registry  // metrics made by the server go to the registry /metrics serves
        let port = Mutex<Int?>(nil)
        var logger = Logger(label: "parley.test.door")
        logger.logLevel = .critical
        let server = OperationalServer.application(configuration: configuration.common, readiness: Readiness(), logger: logger) { bound in
            port.withLock { $0 = bound }
        }
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let task = Task { try await group.run() }
        do {
            try await body(try await eventually("the server to bind") { port.withLock { $0 } })
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
            throw error
        }
        await group.triggerGracefulShutdown()
        try await task.value
    }

    static let short = ["--http-header-timeout", "300ms", "--http-idle-timeout", "300ms", "--http-max-header-bytes", "2048"]
    /// A short header timeout only: on a loaded machine the first bytes may come later than a short
    /// idle timeout, which would close the connection before the head it tests starts.
    static let shortHead = ["--http-header-timeout", "500ms", "--http-idle-timeout", "60s", "--http-max-header-bytes", "2048"]

    @Test("a half-sent request head is answered 408 and closed after the header timeout")
    func halfSentHead() async throws {
        try await withOperationalServer(Self.shortHead) { port in
            let connection = try await RawConnection.connect(port: port)
            try await connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")
            try await connection.waitForClose("the half-sent request to be closed")
            #expect(connection.status == 408)
        }
    }

    @Test("a head trickled a byte at a time is closed: later bytes do not move the header deadline")
    func trickledHead() async throws {
        try await withOperationalServer(Self.shortHead) { port in
            let connection = try await RawConnection.connect(port: port)
            try await connection.send("GET /healthz HTTP/1.1\r\n")
            // Far more header bytes than the timeout allows at this pace, never the end of the head.
            var sent = 0
            for _ in 0..<2000 where !connection.isClosed {
                try? await connection.send("X")
                sent += 1
                try await Task.sleep(for: .milliseconds(20))
            }
            try await connection.waitForClose("the trickled request to be closed")
            #expect(connection.status == 408)
            #expect(sent < 2000, "closed while bytes were still coming (a deadline moved by each byte never fires)")
        }
    }

    @Test("an idle connection is closed, before any request and after a response")
    func idleConnections() async throws {
        try await withOperationalServer(["--http-idle-timeout", "1s"]) { port in
            let silent = try await RawConnection.connect(port: port)
            let served = try await RawConnection.connect(port: port)
            try await served.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try await waitUntil("the answer") { served.text.hasSuffix("ok\n") }
            try await silent.waitForClose("the connection that never sent anything to be closed")
            try await served.waitForClose("the kept-alive connection to be closed")
            #expect(silent.received.isEmpty)
            #expect(served.status == 200)
        }
    }

    @Test("a request head over the limit is answered 431 and the connection closed")
    func oversizedHead() async throws {
        try await withOperationalServer(["--http-max-header-bytes", "2048"]) { port in
            let connection = try await RawConnection.connect(port: port)
            let padding = String(repeating: "a", count: 4000)
            try? await connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: \(padding)\r\n\r\n")
            try await connection.waitForClose("the oversized request to be closed")
            #expect(connection.status == 431)
        }
    }

    @Test("a request head within the limit is served")
    func headWithinLimit() async throws {
        try await withOperationalServer(["--http-max-header-bytes", "2048"]) { port in
            let connection = try await RawConnection.connect(port: port)
            let padding = String(repeating: "a", count: 1500)
            try await connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: \(padding)\r\nConnection: close\r\n\r\n")
            try await connection.waitForClose("the answered request to be closed")
            #expect(connection.status == 200)
        }
    }

    @Test("beyond the connection cap a request is answered 503 and counted; a freed slot serves again")
    func connectionCap() async throws {
        try await withOperationalServer(["--http-max-connections", "2"]) { port in
            var held: [RawConnection] = []
            for _ in 0..<2 {
                let connection = try await RawConnection.connect(port: port)
                try await connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                try await waitUntil("a held connection's answer") { connection.text.hasSuffix("ok\n") }
                held.append(connection)
            }
            let refused = try await RawConnection.connect(port: port)
            try await refused.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try await refused.waitForClose("the connection beyond the cap to be closed")
            #expect(refused.status == 503)
            #expect(refused.text.contains("connection limit"))

            await held[0].close()
            let metrics = try await eventually("a freed slot to serve /metrics") { try? await metricsText(port: port) }
            // This is the only test of the process that fills an admin port, so the count is its own
            // (the series is exported at 0 from the start: its presence alone proves nothing).
            #expect(refusedCount(in: metrics) >= 1, "the refusal was counted")
            await held[1].close()
        }
    }

    /// The body of `GET /metrics` on `port`; throws unless it was answered 200.
    func metricsText(port: Int) async throws -> String {
        let connection = try await RawConnection.connect(port: port)
        try await connection.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        try await connection.waitForClose("the metrics answer")
        guard connection.status == 200 else { throw TestTimeout(what: "/metrics answered \(connection.status ?? 0)") }
        return connection.text
    }

    /// The admin port's refused-connection count in a /metrics text (0 while the series is absent).
    func refusedCount(in metrics: String) -> Double {
        let name = #"parley_http_connections_refused_total{server="admin"} "#
        return metrics.split(separator: "\n").first { $0.hasPrefix(name) }.flatMap { Double($0.dropFirst(name.count)) } ?? 0
    }
}
