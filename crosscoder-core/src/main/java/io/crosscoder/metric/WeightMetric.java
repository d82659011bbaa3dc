package io.crosscoder.metric;

import java.util.Objects;
import java.util.function.ToDoubleFunction;

/**
 * A named number computed for a tensor pair from the sums of the fused pass ({@link
 * PairStatistics}), so that adding a metric never adds a pass over the weights. Metrics that do
 * not use row statistics ({@link #usesRows()} false) are also computed for groups of tensors
 * (per layer, per band, whole model) from the merged sums: the cosine of a layer is the cosine
 * of all its weights joined into one vector.
 *
 * <p>Users add their own with {@link #of} or by implementing this interface and passing it to
 * {@code ModelDiffer.builder().metric(...)}. Implementations must be stateless and thread-safe.
 * A metric that has no value for a pair returns {@code NaN} (reported as missing).
 */
public interface WeightMetric {
  /**
   * Name in reports and JSON, lower snake case: {@code "cosine"}.
   *
   * @return the name, matching {@code [a-z][a-z0-9_]*}
   */
  String name();

  /**
   * One sentence for the report's legend, with the formula.
   *
   * @return the legend sentence; never null
   */
  String description();

  /**
   * The value for these statistics.
   *
   * @param statistics the sums of one tensor pair or of a merged group; read, not kept
   * @return the metric's value, or {@code NaN} when it has none for these statistics
   */
  double compute(PairStatistics statistics);

  /**
   * Whether this metric needs per-row statistics (then it is not computed for groups).
   *
   * @return true if the metric reads {@link PairStatistics#rowStatistics()}; false by default
   */
  default boolean usesRows() {
    return false;
  }

  /**
   * A metric from a function of the sums.
   *
   * @param name the metric's name, lower snake case ({@code [a-z][a-z0-9_]*}), unique among a
   *     differ's metrics
   * @param description one sentence for the report's legend, with the formula
   * @param f computes the value from the sums; stateless and thread-safe
   * @return a new metric that is also computed for groups
   * @throws IllegalArgumentException if {@code name} is not lower snake case
   */
  static WeightMetric of(String name, String description, ToDoubleFunction<PairStatistics> f) {
    Objects.requireNonNull(f, "f");
    return new FunctionMetric(name, description, f, false);
  }

  /**
   * A metric of the per-row statistics (computed for single matrices only).
   *
   * @param name the metric's name, lower snake case ({@code [a-z][a-z0-9_]*}), unique among a
   *     differ's metrics
   * @param description one sentence for the report's legend, with the formula
   * @param f computes the value from the per-row statistics; stateless and thread-safe
   * @return a new metric whose value is {@code NaN} where there are no row statistics
   * @throws IllegalArgumentException if {@code name} is not lower snake case
   */
  static WeightMetric ofRows(String name, String description, ToDoubleFunction<RowStatistics> f) {
    Objects.requireNonNull(f, "f");
    return new FunctionMetric(name, description, s -> s.rowStatistics().map(f::applyAsDouble).orElse(Double.NaN), true);
  }
}
