import Metrics
import Prometheus

/// swift-metrics backed by a Prometheus registry: whatever the edge counts (`rampart_security_events_total`, ...)
/// is what `/metrics` shows.
public final class AdminMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    private init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    /// Makes the registry the process's metrics backend; call once, before anything makes a metric.
    public static func bootstrap() -> AdminMetrics {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return AdminMetrics(registry: registry)
    }
}
