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
        var factory = PrometheusMetricsFactory(registry: registry)
        // Buckets where the values fall: a call's MOS (1-4.5, where 4.3 is toll quality and below 3.6 people
        // complain) and its jitter in milliseconds, instead of the default's seconds.
        factory.valueHistogramBuckets["rampart_media_mos"] = [1, 2, 2.6, 3.1, 3.6, 4.0, 4.3, 4.5]
        factory.valueHistogramBuckets["rampart_media_jitter_milliseconds"] = [1, 5, 10, 20, 30, 50, 100, 200]
        MetricsSystem.bootstrap(factory)
        return AdminMetrics(registry: registry)
    }
}
