package io.crosscoder.report;

import io.crosscoder.metric.WeightMetric;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The comparison of one tensor pair. An immutable value: the shape is copied in and out and
 * compared by content, the metrics and rows are unmodifiable copies, and what may be absent is an
 * {@link Optional}. Made by {@link io.crosscoder.ModelDiffer}; the canonical constructor is public
 * only because records require it, for tests and tools that rebuild reports.
 *
 * @param name the tensor's name (the base's)
 * @param targetName the target's name when it differs (tied heads, renames), else empty
 * @param layer block index, or empty outside repeated blocks
 * @param kind parameter kind ({@code mlp.gate_proj.weight})
 * @param shape logical shape compared
 * @param baseDtype storage type of the base tensor
 * @param targetDtype storage type of the target tensor
 * @param baseQuantized whether the base tensor was stored quantized (compared dequantized)
 * @param targetQuantized whether the target tensor was stored quantized
 * @param metrics metric name to value ({@code NaN} where it has none), in metric order
 * @param rowsCompared rows with row statistics, 0 when none were computed
 * @param rowsBelowThreshold rows whose cosine is below {@link DiffReport#ROW_COSINE_THRESHOLD}
 * @param lowestRows the rows with the lowest cosine, lowest first (at most 10)
 * @param nonFinite element pairs left out because an element is NaN or infinite
 * @param note how the pair was made when it is not a plain same-name match, else empty
 */
public record TensorDiff(
    String name,
    Optional<String> targetName,
    OptionalInt layer,
    String kind,
    long[] shape,
    String baseDtype,
    String targetDtype,
    boolean baseQuantized,
    boolean targetQuantized,
    Map<String, Double> metrics,
    int rowsCompared,
    int rowsBelowThreshold,
    List<RowChange> lowestRows,
    long nonFinite,
    Optional<String> note) {

  /** Copies the shape, metrics and rows, so that the value cannot change afterwards. */
  public TensorDiff {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(targetName, "targetName");
    Objects.requireNonNull(layer, "layer");
    Objects.requireNonNull(note, "note");
    shape = shape.clone();
    metrics = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(metrics));
    lowestRows = List.copyOf(lowestRows);
  }

  /** {@return the logical shape compared, a fresh copy} */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /**
   * Equal when every component is, the shape compared by content (a record would compare the
   * array's identity) and metric values by {@link Double#equals} (NaN equals NaN).
   */
  @Override
  public boolean equals(Object o) {
    return o instanceof TensorDiff t && name.equals(t.name) && targetName.equals(t.targetName)
        && layer.equals(t.layer) && Objects.equals(kind, t.kind) && Arrays.equals(shape, t.shape)
        && Objects.equals(baseDtype, t.baseDtype) && Objects.equals(targetDtype, t.targetDtype)
        && baseQuantized == t.baseQuantized && targetQuantized == t.targetQuantized && metrics.equals(t.metrics)
        && rowsCompared == t.rowsCompared && rowsBelowThreshold == t.rowsBelowThreshold
        && lowestRows.equals(t.lowestRows) && nonFinite == t.nonFinite && note.equals(t.note);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, targetName, layer, kind, Arrays.hashCode(shape), baseDtype, targetDtype, baseQuantized,
        targetQuantized, metrics, rowsCompared, rowsBelowThreshold, lowestRows, nonFinite, note);
  }

  @Override
  public String toString() {
    return "TensorDiff[name=" + name + ", targetName=" + targetName.orElse(null) + ", layer="
        + (layer.isPresent() ? layer.getAsInt() : null) + ", kind=" + kind
        + ", shape=" + Arrays.toString(shape) + ", baseDtype=" + baseDtype + ", targetDtype=" + targetDtype
        + ", baseQuantized=" + baseQuantized + ", targetQuantized=" + targetQuantized + ", metrics=" + metrics
        + ", rowsCompared=" + rowsCompared + ", rowsBelowThreshold=" + rowsBelowThreshold + ", lowestRows="
        + lowestRows + ", nonFinite=" + nonFinite + ", note=" + note.orElse(null) + "]";
  }

  /** {@return number of elements compared} */
  public long elements() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  /**
   * {@return the value of a metric, NaN when absent}
   *
   * @param metricName the metric's name: a custom metric's, a spectral one's ({@link
   *     DiffAnalysis#SPECTRAL_METRICS}), or a built-in's (see {@link #metric(WeightMetric)})
   */
  public double metric(String metricName) {
    Double v = metrics.get(metricName);
    return v == null ? Double.NaN : v;
  }

  /**
   * {@return the value of a metric, NaN when absent}
   *
   * @param metric the metric, e.g. one of {@link io.crosscoder.metric.WeightMetrics}
   */
  public double metric(WeightMetric metric) {
    return metric(metric.name());
  }

  /**
   * A row of a matrix and the cosine between its base and target versions.
   *
   * @param row the row index
   * @param cosine cosine between the base's and the target's row
   */
  public record RowChange(long row, double cosine) {}
}
