package io.crosscoder.metric;

import java.util.List;

/** The built-in weight metrics of METHOD.md section 1, all from one fused pass. */
public final class WeightMetrics {
  private WeightMetrics() {}

  /** {@code A.B / (|A| |B|)}; 1 for two zero tensors, 0 when only one is zero. */
  public static final WeightMetric COSINE = WeightMetric.of("cosine",
      "cosine similarity A.B / (|A| |B|); 1 if both are zero, 0 if one is", PairStatistics::cosine);

  /** {@code |B - A| / |A|} (Frobenius); infinite when A is zero and B is not. */
  public static final WeightMetric RELATIVE_CHANGE = WeightMetric.of("relative_change",
      "relative change |B - A| / |A| (Frobenius norms)", PairStatistics::relativeChange);

  /** {@code |B - A|}. */
  public static final WeightMetric DIFF_NORM = WeightMetric.of("diff_norm",
      "absolute change |B - A| (Frobenius norm)", PairStatistics::diffNorm);

  /** {@code |A|}. */
  public static final WeightMetric BASE_NORM = WeightMetric.of("base_norm",
      "norm of the base |A|", PairStatistics::baseNorm);

  /** {@code |B|}. */
  public static final WeightMetric TARGET_NORM = WeightMetric.of("target_norm",
      "norm of the target |B|", PairStatistics::targetNorm);

  /** {@code max_i |B_i - A_i|}. */
  public static final WeightMetric MAX_ABS_DIFF = WeightMetric.of("max_abs_diff",
      "largest element change max |B_i - A_i|", PairStatistics::maxAbsDiff);

  /** Fraction of elements whose value changed bit for bit. */
  public static final WeightMetric CHANGED_FRACTION = WeightMetric.of("changed_fraction",
      "fraction of elements whose value changed (bit-exact compare)", PairStatistics::changedFraction);

  /** Lowest cosine between corresponding rows (tokens, for embeddings and heads). */
  public static final WeightMetric ROW_COSINE_MIN = WeightMetric.ofRows("row_cosine_min",
      "lowest cosine between corresponding rows (for embeddings and heads a row is a token)",
      r -> r.rows() == 0 ? Double.NaN : r.sortedCosines()[0]);

  /** Mean of the row cosines. */
  public static final WeightMetric ROW_COSINE_MEAN = WeightMetric.ofRows("row_cosine_mean",
      "mean cosine between corresponding rows", r -> {
        if (r.rows() == 0) {
          return Double.NaN;
        }
        double sum = 0;
        for (int i = 0; i < r.rows(); i++) {
          sum += r.cosine(i);
        }
        return sum / r.rows();
      });

  /** 5th percentile of the row cosines (linear interpolation between order statistics, R-7). */
  public static final WeightMetric ROW_COSINE_P5 = WeightMetric.ofRows("row_cosine_p5",
      "5th percentile of the row cosines (linear interpolation, as numpy's default)",
      r -> r.rows() == 0 ? Double.NaN : percentile(r.sortedCosines(), 0.05));

  /**
   * Every built-in metric, in report order.
   *
   * @return an immutable list of the built-in metrics
   */
  public static List<WeightMetric> defaults() {
    return List.of(COSINE, RELATIVE_CHANGE, DIFF_NORM, BASE_NORM, TARGET_NORM, MAX_ABS_DIFF, CHANGED_FRACTION,
        ROW_COSINE_MIN, ROW_COSINE_MEAN, ROW_COSINE_P5);
  }

  /**
   * The {@code q}-quantile of ascending {@code sorted} values with linear interpolation between
   * the order statistics at positions {@code q (n - 1)} (Hyndman and Fan type 7).
   *
   * @param sorted the values in ascending order; read, not changed
   * @param q the quantile, in {@code [0, 1]} (0.05 for the 5th percentile)
   * @return the interpolated quantile, or {@code NaN} for no values
   */
  public static double percentile(double[] sorted, double q) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    double pos = q * (sorted.length - 1);
    int lo = (int) Math.floor(pos);
    int hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
  }
}
