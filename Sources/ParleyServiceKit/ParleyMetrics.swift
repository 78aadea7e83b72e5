import Metrics
import Prometheus
import Synchronization

/// Process-wide metrics: swift-metrics backed by one Prometheus registry, served at `/metrics`.
/// Every metric name starts with `parley_`.
public enum ParleyMetrics {
    private static let state = Mutex<PrometheusCollectorRegistry?>(nil)

    /// The registry, bootstrapping swift-metrics on first use (once per process, so tests that
    /// build several applications in one process share it).
    public static var registry: PrometheusCollectorRegistry {
        state.withLock { registry in
            if let registry { return registry }
            let created = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: created))
            registry = created
            return created
        }
    }
}
