import Metrics
import Prometheus
import Synchronization

/// Process-wide metrics: swift-metrics backed by one Prometheus registry, served at `/metrics`.
/// Every metric name starts with `parley_`. Timers are Prometheus histograms in seconds with
/// ``durationBuckets``.
public enum ParleyMetrics {
    /// Buckets of every duration histogram: chat latencies live between a millisecond (a Redis
    /// round trip) and seconds (a slow consumer, a client's message under load).
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    private static let state = Mutex<PrometheusCollectorRegistry?>(nil)

    /// The registry, bootstrapping swift-metrics on first use (once per process, so tests that
    /// build several applications in one process share it).
    public static var registry: PrometheusCollectorRegistry {
        state.withLock { registry in
            if let registry { return registry }
            let created = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: created)
            factory.defaultDurationHistogramBuckets = durationBuckets
            MetricsSystem.bootstrap(factory)
            registry = created
            return created
        }
    }
}
