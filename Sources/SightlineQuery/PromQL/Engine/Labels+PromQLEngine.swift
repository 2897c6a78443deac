import SightlineCore

extension Labels {
    /// The labels without those named in `names`.
    func removing(_ names: Set<String>) -> Labels {
        Labels(labels.filter { !names.contains($0.name) })
    }

    /// Only the labels named in `names`.
    func keeping(_ names: Set<String>) -> Labels {
        Labels(labels.filter { names.contains($0.name) })
    }

    /// The labels without `__name__`.
    var withoutMetricName: Labels {
        labels.contains(where: { $0.name == Labels.metricName }) ? removing([Labels.metricName]) : self
    }

    /// The labels with `name` set to `value` (removed when `value` is empty).
    func setting(_ name: String, _ value: String) -> Labels {
        LabelName.setting(name, to: value, in: self)
    }

    /// Prometheus' `labels.Labels.String()`: `{__name__="x", a="b"}`.
    var promString: String {
        "{" + labels.map { "\($0.name)=\(LabelName.goQuoted($0.value))" }.joined(separator: ", ") + "}"
    }
}
