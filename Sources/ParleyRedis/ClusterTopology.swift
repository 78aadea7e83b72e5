/// Which primary owns each of a Redis Cluster's 16384 slots, as `CLUSTER SLOTS` reported it.
struct ClusterTopology: Sendable {
    /// The primaries, each once.
    let primaries: [RedisEndpoint]
    /// Per slot, the index of its primary in ``primaries``; -1 for a slot no node serves.
    private let owners: [Int16]

    /// The primary serving `slot`; nil while no node serves it (the cluster is down for it).
    func primary(of slot: RedisHashSlot) -> RedisEndpoint? {
        let owner = owners[Int(slot.rawValue)]
        return owner < 0 ? nil : primaries[Int(owner)]
    }

    /// Each primary's slot ranges, `0-5460@127.0.0.1:7000 …`, in slot order.
    var summary: String {
        var ranges: [String] = []
        var start = 0
        for slot in 1...RedisHashSlot.count where slot == RedisHashSlot.count || owners[slot] != owners[start] {
            if owners[start] >= 0 { ranges.append("\(start)-\(slot - 1)@\(primaries[Int(owners[start])])") }
            start = slot
        }
        return ranges.joined(separator: " ")
    }

    /// The same map with `slot` served by `endpoint` (what a `MOVED` reply says).
    func moving(_ slot: RedisHashSlot, to endpoint: RedisEndpoint) -> ClusterTopology {
        var primaries = primaries
        var owners = owners
        let index = primaries.firstIndex(of: endpoint) ?? {
            primaries.append(endpoint)
            return primaries.count - 1
        }()
        owners[Int(slot.rawValue)] = Int16(index)
        return ClusterTopology(primaries: primaries, owners: owners)
    }

    private init(primaries: [RedisEndpoint], owners: [Int16]) {
        self.primaries = primaries
        self.owners = owners
    }

    /// Reads a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id…], replicas…], …]`. A node
    /// that reports an empty host (it does not know its own address) is `queried`'s host.
    init(slots reply: RESPValue, queried: RedisEndpoint) throws(RedisError) {
        func malformed() -> RedisError {
            RedisError(code: .protocol, message: "malformed CLUSTER SLOTS reply from \(queried): \(reply)")
        }
        var primaries: [RedisEndpoint] = []
        var owners = [Int16](repeating: -1, count: RedisHashSlot.count)
        for range in try reply.asArray() {
            let fields = try range.asArray()
            guard fields.count >= 3 else { throw malformed() }
            let start = try fields[0].asInteger(), end = try fields[1].asInteger()
            let node = try fields[2].asArray()
            guard (0..<RedisHashSlot.count).contains(start), (start..<RedisHashSlot.count).contains(end), node.count >= 2,
                  let reported = try node[0].asString(), let port = try? node[1].asInteger(), (1...65535).contains(port)
            else { throw malformed() }
            let endpoint = RedisEndpoint(host: reported.isEmpty ? queried.host : reported, port: port)
            let index = primaries.firstIndex(of: endpoint) ?? {
                primaries.append(endpoint)
                return primaries.count - 1
            }()
            for slot in start...end { owners[slot] = Int16(index) }
        }
        guard !primaries.isEmpty else {
            throw RedisError(code: .server, message: "CLUSTERDOWN \(queried) reports no slots served")
        }
        self.init(primaries: primaries, owners: owners)
    }
}

/// What an error reply of a cluster node asks the client to do.
enum ClusterRedirect: Equatable, Sendable {
    /// `MOVED <slot> <host:port>`: the slot lives on that node now; refresh the map.
    case moved(RedisHashSlot, RedisEndpoint)
    /// `ASK <slot> <host:port>`: this one command goes to that node, after `ASKING` (a slot migration).
    case ask(RedisEndpoint)
    /// The cluster cannot serve the command now (`CLUSTERDOWN`, `TRYAGAIN`, `MASTERDOWN`,
    /// `LOADING`, or `READONLY` from a demoted primary): refresh the map and retry after a pause.
    case unavailable

    /// The redirect an error reply stands for; nil for an ordinary error.
    init?(error text: String) {
        let words = text.split(separator: " ")
        guard let first = words.first else { return nil }
        switch first {
        case "MOVED", "ASK":
            guard words.count == 3, let slot = UInt16(words[1]), Int(slot) < RedisHashSlot.count,
                  let endpoint = Self.endpoint(words[2]) else { return nil }
            self = first == "MOVED" ? .moved(RedisHashSlot(rawValue: slot), endpoint) : .ask(endpoint)
        case "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "LOADING", "READONLY":
            self = .unavailable
        default:
            return nil
        }
    }

    /// `host:port`, the host possibly an IPv6 address (split at the last colon) or empty.
    private static func endpoint(_ text: Substring) -> RedisEndpoint? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return RedisEndpoint(host: String(host), port: port)
    }
}
