import MetricsTestKit
@testable import Offline
import ParleyRedis
import ParleyServiceKit
import ParleyTestSupport
import Testing

@Suite("offline-svc Redis memory gauges")
struct OfflineRedisMemoryTests {
    @Test("one sample records INFO memory's used_memory and maxmemory (as CONFIG GET answers it) in the two gauges")
    func sample() async throws {
        try await withRedis { redis in
            let metrics = TestMetrics()
            let gauges = RedisMemoryGauges(redis: redis, interval: .seconds(60), logger: serviceLogger("memory"), metrics: metrics)
            try await gauges.sample()
            let configured = try await redis.send(.raw(["CONFIG", "GET", "maxmemory"])).asStrings()
            #expect(try metrics.expectGauge("parley_redis_maxmemory_bytes").lastValue == Double(configured.last ?? ""))
            #expect(try #require(try metrics.expectGauge("parley_redis_used_memory_bytes").lastValue) > 0)
        }
    }

    @Test("INFO's integer fields are read; section headers and text values are skipped")
    func fields() {
        let info = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:2147483648\r\nmaxmemory_policy:noeviction\r\n"
        #expect(RedisMemoryGauges.fields(info) == ["used_memory": 1_048_576, "maxmemory": 2_147_483_648])
    }
}
