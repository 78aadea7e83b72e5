import Metrics
import NIOCore
import Synchronization

/// Counts the open connections of one HTTP port against ``HTTPServerLimits/maxConnections``.
/// `parley_http_connections{server}` is the count, `parley_http_connections_refused_total{server}`
/// the connections refused because the port was full.
public final class ConnectionLimiter: Sendable {
    private let limit: Int
    private let open = Atomic<Int>(0)
    private let gauge: Gauge
    private let refused: Counter

    /// `server` names the port in the metrics (`public`, `admin`).
    public init(limit: Int, server: String) {
        self.limit = limit
        gauge = Gauge(label: "parley_http_connections", dimensions: [("server", server)])
        refused = Counter(label: "parley_http_connections_refused_total", dimensions: [("server", server)])
    }

    /// Counts `channel` in until it closes; false (and counted as refused) when the port already
    /// holds its limit, so the caller refuses it.
    public func admit(_ channel: any Channel) -> Bool {
        let count = open.add(1, ordering: .relaxed).newValue
        gauge.record(count)
        channel.closeFuture.whenComplete { [self] _ in
            gauge.record(open.subtract(1, ordering: .relaxed).newValue)
        }
        guard count <= limit else {
            refused.increment()
            return false
        }
        return true
    }
}
