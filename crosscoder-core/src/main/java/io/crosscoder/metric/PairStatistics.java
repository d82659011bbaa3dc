package io.crosscoder.metric;

import java.util.Optional;

/**
 * The sums of one fused pass over a tensor pair (base {@code A}, target {@code B}, {@code D = B -
 * A}), element by element in f32 and accumulated in f64. Every cheap metric is a function of
 * these, so each tensor is read once whatever the number of metrics.
 *
 * <p>Pairs where either element is NaN or infinite are left out of the sums and the maximum, and
 * counted in {@link #nonFinite()}.
 *
 * @param count elements compared (finite pairs and non-finite ones)
 * @param dot {@code sum A_i B_i}
 * @param baseSquares {@code sum A_i^2}
 * @param targetSquares {@code sum B_i^2}
 * @param diffSquares {@code sum (B_i - A_i)^2}, with the difference taken in f32
 * @param maxAbsDiff {@code max |B_i - A_i|}, 0 for an empty tensor
 * @param changed elements whose f32 values differ bit for bit ({@code -0} vs {@code 0} counts)
 * @param nonFinite pairs left out because an element is NaN or infinite
 * @param rows per-row sums for matrices, when they were asked for
 */
public record PairStatistics(
    long count,
    double dot,
    double baseSquares,
    double targetSquares,
    double diffSquares,
    double maxAbsDiff,
    long changed,
    long nonFinite,
    RowStatistics rows) {

  /** The statistics of no elements. */
  public static final PairStatistics EMPTY = new PairStatistics(0, 0, 0, 0, 0, 0, 0, 0, null);

  /**
   * Combines the sums of two disjoint element sets, e.g. the parts of a tensor read in parallel.
   *
   * @param o the other set's statistics
   * @return the statistics of the union of both element sets (row statistics kept from {@code
   *     this}, else taken from {@code o})
   */
  public PairStatistics merge(PairStatistics o) {
    return new PairStatistics(
        count + o.count,
        dot + o.dot,
        baseSquares + o.baseSquares,
        targetSquares + o.targetSquares,
        diffSquares + o.diffSquares,
        Math.max(maxAbsDiff, o.maxAbsDiff),
        changed + o.changed,
        nonFinite + o.nonFinite,
        rows != null ? rows : o.rows);
  }

  /**
   * Attaches per-row sums.
   *
   * @param r the per-row sums of the same tensor pair, or null for none
   * @return the same sums with these row statistics
   */
  public PairStatistics withRows(RowStatistics r) {
    return new PairStatistics(count, dot, baseSquares, targetSquares, diffSquares, maxAbsDiff, changed, nonFinite, r);
  }

  /** {@return the same sums without row statistics (for aggregates over several tensors)} */
  public PairStatistics withoutRows() {
    return rows == null ? this : withRows(null);
  }

  /** {@return the per-row sums, or empty when they were not asked for} */
  public Optional<RowStatistics> rowStatistics() {
    return Optional.ofNullable(rows);
  }

  /** {@return {@code |A|}, the Frobenius norm of the base (over the finite pairs)} */
  public double baseNorm() {
    return Math.sqrt(baseSquares);
  }

  /** {@return {@code |B|}, the Frobenius norm of the target (over the finite pairs)} */
  public double targetNorm() {
    return Math.sqrt(targetSquares);
  }

  /** {@return {@code |B - A|}, the Frobenius norm of the difference (over the finite pairs)} */
  public double diffNorm() {
    return Math.sqrt(diffSquares);
  }

  /**
   * Cosine similarity {@code A.B / (|A| |B|)}, clamped to [-1, 1]. Two all-zero tensors have
   * cosine 1 (they are equal); one all-zero tensor against a non-zero one has cosine 0.
   *
   * <p><b>Non-finite values.</b> The sums leave out pairs with a NaN or infinite element; the
   * cosine of what is left would look like an answer about the whole tensor, and with every pair
   * left out (a tensor all NaN or all infinite on one side) it would be the "both zero" 1. So the
   * cosine is NaN (not computed) whenever {@link #nonFinite()} is above zero: such a tensor never
   * counts as kept or as changed, in the lineage verdict or anywhere else, and the report counts
   * its non-finite values instead.
   *
   * @return the cosine in [-1, 1], or NaN
   */
  public double cosine() {
    return nonFinite > 0 ? Double.NaN : cosine(dot, baseSquares, targetSquares);
  }

  /**
   * Relative change {@code |B - A| / |A|}: 0 when nothing changed, positive infinity when the
   * base is all zeros and the target is not, NaN (not computed) when a pair is non-finite, as
   * for {@link #cosine()}.
   *
   * @return the relative change, at least 0, possibly infinite or NaN
   */
  public double relativeChange() {
    if (nonFinite > 0) {
      return Double.NaN;
    }
    if (baseSquares == 0) {
      return diffSquares == 0 ? 0 : Double.POSITIVE_INFINITY;
    }
    return Math.sqrt(diffSquares / baseSquares);
  }

  /** {@return the fraction of elements that changed bit for bit, in [0, 1]; 0 for an empty tensor} */
  public double changedFraction() {
    return count == 0 ? 0 : (double) changed / count;
  }

  /**
   * Cosine from sums, with the zero-norm cases of {@link #cosine()}. The denominator is {@code
   * sqrt(aa bb)} in one rounding where that product is a normal f64, so a tensor compared with
   * itself ({@code dot == aa == bb}) gets exactly 1 (the correctly rounded square root of a
   * correctly rounded square is the number itself); clamped to [-1, 1]. NaN if a sum is NaN.
   *
   * @param dot {@code sum a_i b_i}
   * @param aa {@code sum a_i^2}
   * @param bb {@code sum b_i^2}
   * @return the cosine in [-1, 1], or NaN
   */
  public static double cosine(double dot, double aa, double bb) {
    if (Double.isNaN(dot) || Double.isNaN(aa) || Double.isNaN(bb)) {
      return Double.NaN;
    }
    if (aa == 0 || bb == 0) {
      return aa == 0 && bb == 0 ? 1 : 0;
    }
    double product = aa * bb;
    double norms = product >= Double.MIN_NORMAL && product < Double.POSITIVE_INFINITY
        ? Math.sqrt(product)
        : Math.sqrt(aa) * Math.sqrt(bb);
    double c = dot / norms;
    return Math.max(-1, Math.min(1, c));
  }
}
