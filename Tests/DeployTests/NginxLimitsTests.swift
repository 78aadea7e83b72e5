import Testing

/// The load balancer's per-address limits (docs/security.md, "Doors: timeouts and connection limits").
extension NginxTests {
    /// The zone of `name` declared by a `limit_*_zone` directive, if it is keyed by the client address.
    func zoneKeyedByAddress(_ directive: String, _ name: String) -> Directive? {
        all(directive).first { zone in
            zone.arguments.first == "$binary_remote_addr" && zone.arguments.contains { $0.hasPrefix("zone=\(name):") }
        }
    }

    /// The zone a `limit_req zone=<name> ...` directive names.
    static func zoneName(_ directive: Directive) -> String? {
        directive.arguments.first { $0.hasPrefix("zone=") }.map { String($0.dropFirst(5)) }
    }

    @Test("every connection counts against a per-address connection limit")
    func connectionLimit() throws {
        let server = try #require(all("server").first)
        let limit = try #require(all("limit_conn", in: server.block).first, "\(Self.path): no limit_conn in the server block")
        let zone = try #require(limit.arguments.first)
        #expect(zoneKeyedByAddress("limit_conn_zone", zone) != nil, "limit_conn \(zone): its zone must be keyed by $binary_remote_addr")
        let count = try #require(limit.arguments.dropFirst().first.flatMap { Int($0) })
        #expect((1...1000).contains(count), "limit_conn \(zone) \(count): a per-address cap between 1 and 1000")
    }

    @Test("WebSocket handshakes and plain requests are rate limited per address, over-limit answered 429")
    func requestRates() throws {
        for path in ["/ws", "@query_token", "/"] {
            let block = try #require(location(path), "\(Self.path): no location \(path)").block
            let limit = try #require(all("limit_req", in: block).first, "\(path): no limit_req")
            let zone = try #require(Self.zoneName(limit), "\(path): limit_req names no zone")
            let declared = try #require(zoneKeyedByAddress("limit_req_zone", zone), "\(path): zone \(zone) must be keyed by $binary_remote_addr")
            #expect(declared.arguments.contains { $0.hasPrefix("rate=") }, "zone \(zone) must set a rate")
            #expect(limit.arguments.contains { $0.hasPrefix("burst=") }, "\(path): limit_req needs a burst (reconnect storms after a restart)")
        }
        #expect(all("limit_conn_status").first?.arguments == ["429"], "limit_conn_status 429")
        #expect(all("limit_req_status").first?.arguments == ["429"], "limit_req_status 429")
    }

    @Test("slow request heads and bodies time out at the load balancer as at the edge")
    func headerTimeouts() throws {
        for name in ["client_header_timeout", "client_body_timeout"] {
            let value = try #require(all(name).first?.arguments.first.flatMap(Self.seconds), "\(Self.path): no \(name)")
            #expect(value <= 30, "\(name) \(value) s: at most 30 s")
        }
        let buffers = try #require(all("large_client_header_buffers").first, "\(Self.path): no large_client_header_buffers")
        #expect(buffers.arguments.count == 2, "large_client_header_buffers <count> <size>")
    }
}
