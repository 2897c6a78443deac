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

    /// Prometheus' metadata labels, which go together when an operation drops the metric name: `__name__`, and the
    /// `__type__` and `__unit__` of its `type-and-unit-labels` feature.
    static let metadataNames: Set<String> = [Labels.metricName, "__type__", "__unit__"]

    /// The labels without the metadata labels (``metadataNames``).
    var withoutMetricName: Labels {
        labels.contains(where: { Self.metadataNames.contains($0.name) }) ? removing(Self.metadataNames) : self
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
