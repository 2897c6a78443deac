package import SightlineCore

/// Loki 3's service name discovery: a pushed stream without a `service_name` label gets one — the value of the first
/// of its labels in ``sources`` that it has, else `unknown_service` — so that Grafana's Logs Drilldown, which lists
/// services by `service_name`, finds every stream (OpenTelemetry records have theirs from `service.name`).
package enum LokiServiceName {
    package static let label = "service_name"
    /// The labels a service name is taken from, in order (Loki's `discover_service_name` default).
    package static let sources = [
        "service", "app", "application", "app_name", "name", "app_kubernetes_io_name", "container", "container_name",
        "k8s_container_name", "component", "workload", "job", "k8s_job_name",
    ]

    /// `labels` with a `service_name`.
    package static func discovered(_ labels: Labels) -> Labels {
        guard labels[label] == nil else { return labels }
        let name = sources.lazy.compactMap { labels[$0] }.first ?? "unknown_service"
        return Labels(labels.labels + [Label(label, name)])
    }
}
