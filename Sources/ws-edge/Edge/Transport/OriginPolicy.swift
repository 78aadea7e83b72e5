/// Which web pages may open a WebSocket on this edge (`--allowed-origins`): browsers send the
/// page's `Origin` with every upgrade, so a page of another site cannot use a visitor's token
/// (cross-site WebSocket hijacking). Clients that are no browser send no `Origin` and are not
/// concerned.
public struct OriginPolicy: Sendable, Equatable {
    enum Rule: Sendable, Equatable {
        /// The origin's host and port are the request's `Host` (the default).
        case sameHost
        /// Any origin (`*`).
        case any
        /// Exactly these origins, lowercased, default ports left out.
        case list(Set<String>)
    }

    let rule: Rule

    /// Parses the setting: empty, `*`, or `scheme://host[:port]` origins separated by commas;
    /// nil when an entry is no such origin.
    public init?(setting: String) {
        let entries = setting.split(separator: ",").map { String($0).trimmingWhitespace }.filter { !$0.isEmpty }
        if entries.isEmpty {
            rule = .sameHost
        } else if entries == ["*"] {
            rule = .any
        } else {
            var origins: Set<String> = []
            for entry in entries {
                guard let origin = WebOrigin(entry) else { return nil }
                origins.insert(origin.serialized)
            }
            rule = .list(origins)
        }
    }

    /// Whether an upgrade with this `Origin` (nil: none sent) and `Host` may open a session.
    /// Only a web page's origin is checked (`http`, `https`, or `null` for an opaque one): a
    /// browser sends nothing else for a page, and any other client can send whatever it likes
    /// (e.g. `ws://host`, as some WebSocket libraries do), so checking it would protect nothing.
    func allows(origin: String?, host: String?) -> Bool {
        guard let origin, Self.isWebPage(origin) else { return true }
        switch rule {
        case .any:
            return true
        case .list(let origins):
            return WebOrigin(origin).map { origins.contains($0.serialized) } ?? false
        case .sameHost:
            guard let parsed = WebOrigin(origin), let host, let authority = WebOrigin("\(parsed.scheme)://\(host)") else { return false }
            return parsed == authority
        }
    }
}

extension OriginPolicy {
    static func isWebPage(_ origin: String) -> Bool {
        let lowered = origin.lowercased()
        return lowered == "null" || lowered.hasPrefix("http://") || lowered.hasPrefix("https://")
    }
}

/// A serialized web origin: `scheme://host[:port]`, the port left out when it is the scheme's default.
struct WebOrigin: Equatable {
    let scheme: String
    let host: String
    let port: Int?

    init?(_ text: String) {
        let lowered = text.lowercased()
        guard let separator = lowered.range(of: "://") else { return nil }
        let scheme = String(lowered[..<separator.lowerBound])
        guard ["http", "https"].contains(scheme) else { return nil }
        var authority = Substring(lowered[separator.upperBound...])
        var port: Int?
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") {
            guard let number = Int(authority[authority.index(after: colon)...]), (1...65535).contains(number) else { return nil }
            port = number
            authority = authority[..<colon]
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-[]:")
        guard !authority.isEmpty, authority.allSatisfy(allowed.contains) else { return nil }
        let defaultPort = scheme == "https" ? 443 : 80
        self.scheme = scheme
        host = String(authority)
        self.port = port == defaultPort ? nil : port
    }

    var serialized: String { "\(scheme)://\(host)" + (port.map { ":\($0)" } ?? "") }
}

extension String {
    var trimmingWhitespace: String {
        var text = Substring(self)
        while text.first?.isWhitespace == true { text.removeFirst() }
        while text.last?.isWhitespace == true { text.removeLast() }
        return String(text)
    }
}
