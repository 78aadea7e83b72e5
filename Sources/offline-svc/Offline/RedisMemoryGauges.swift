import Logging
import Metrics
import ParleyRedis
import ServiceLifecycle

/// Samples Redis's `INFO memory` every `interval` and exports `parley_redis_used_memory_bytes`
/// and `parley_redis_maxmemory_bytes` (0: no maxmemory set), for the alert that fires when
/// Redis nears its limit (docs/security.md). Returns at once on graceful shutdown.
struct RedisMemoryGauges: Service {
    let redis: RedisClient
    let interval: Duration
    let logger: Logger
    private let used: Gauge
    private let limit: Gauge

    init(redis: RedisClient, interval: Duration, logger: Logger, metrics: any MetricsFactory = MetricsSystem.factory) {
        self.redis = redis
        self.interval = interval
        self.logger = logger
        used = Gauge(label: "parley_redis_used_memory_bytes", factory: metrics)
        limit = Gauge(label: "parley_redis_maxmemory_bytes", factory: metrics)
    }

    func run() async throws {
        // Graceful shutdown cancels the loop; what it throws then is the cancellation's doing.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await sample()
                } catch where !Task.isCancelled {
                    logger.warning("reading Redis memory failed", metadata: ["parley.error": "\(error)"])
                }
                try await Task.sleep(for: interval)
            }
        }
    }

    /// Reads `INFO memory` once and records both gauges.
    func sample() async throws {
        let info = try await redis.send(RedisCommand.raw(["INFO", "memory"]).map { reply throws(RedisError) in try reply.asString() ?? "" })
        let fields = Self.fields(info)
        guard let usedBytes = fields["used_memory"], let maxBytes = fields["maxmemory"] else {
            throw RedisError(code: .protocol, message: "INFO memory without used_memory and maxmemory")
        }
        used.record(usedBytes)
        limit.record(maxBytes)
    }

    /// The integer fields of an `INFO` answer (`name:value` lines).
    static func fields(_ info: String) -> [String: Int64] {
        var fields: [String: Int64] = [:]
        for line in info.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, let value = Int64(parts[1]) { fields[String(parts[0])] = value }
        }
        return fields
    }
}
