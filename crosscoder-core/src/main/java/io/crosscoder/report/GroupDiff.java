package io.crosscoder.report;

import io.crosscoder.metric.WeightMetric;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Metrics of a group of tensors (one layer and kind, one layer, a band, the whole model),
 * computed from the merged sums: the group is compared as one long vector, so large tensors
 * weigh in proportion to their size.
 *
 * @param label what the group is: {@code "layer 3"}, {@code "mlp.up_proj.weight"}, {@code "late"}
 * @param layer the layer, when the group is within one layer, else empty
 * @param kind the parameter kind, when the group is one kind, else empty
 * @param tensors tensors in the group
 * @param elements elements in the group
 * @param metrics metric values (metrics that use rows are absent)
 */
public record GroupDiff(String label, OptionalInt layer, Optional<String> kind, int tensors, long elements, Map<String, Double> metrics) {
  /** Copies the metrics, so that the value cannot change afterwards. */
  public GroupDiff {
    Objects.requireNonNull(label, "label");
    Objects.requireNonNull(layer, "layer");
    Objects.requireNonNull(kind, "kind");
    metrics = Collections.unmodifiableMap(new LinkedHashMap<>(metrics));
  }

  /**
   * The value of a metric.
   *
   * @param name the metric's name: a custom metric's, a spectral one's, or a built-in's (see
   *     {@link #metric(WeightMetric)})
   * @return its value, NaN when absent
   */
  public double metric(String name) {
    Double v = metrics.get(name);
    return v == null ? Double.NaN : v;
  }

  /**
   * The value of a metric.
   *
   * @param metric the metric, e.g. one of {@link io.crosscoder.metric.WeightMetrics}
   * @return its value, NaN when absent
   */
  public double metric(WeightMetric metric) {
    return metric(metric.name());
  }
}
