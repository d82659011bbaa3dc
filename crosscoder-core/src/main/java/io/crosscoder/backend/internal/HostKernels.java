package io.crosscoder.backend.internal;

/**
 * Host-side loops shared by the default methods of {@link Kernels} (the path of a backend that
 * does not override a transformer kernel) and by the CPU's plain-Java form, so that both mean the
 * same thing by the causal mask.
 */
public final class HostKernels {
  private HostKernels() {}

  /**
   * One row of {@link Kernels#causalSoftmax}, in place on {@code row[0 .. cols)}: the query at
   * position {@code query} sees key {@code j} when {@code j <= query} and, for {@code window > 0},
   * {@code query - j < window}. Sums run in f64.
   */
  public static void softmaxRow(float[] row, int cols, long query, int window) {
    int[] range = visibleKeys(cols, query, window);
    int from = range[0];
    int to = range[1];
    for (int j = 0; j < from; j++) {
      row[j] = 0f;
    }
    for (int j = Math.max(from, to); j < cols; j++) {
      row[j] = 0f;
    }
    if (from >= to) {
      return;
    }
    float max = row[from];
    for (int j = from + 1; j < to; j++) {
      max = Math.max(max, row[j]);
    }
    double sum = 0;
    double[] e = new double[to - from];
    for (int j = from; j < to; j++) {
      e[j - from] = Math.exp((double) row[j] - max);
      sum += e[j - from];
    }
    for (int j = from; j < to; j++) {
      row[j] = (float) (e[j - from] / sum);
    }
  }

  /**
   * The visible keys of a query under {@link Kernels#causalSoftmax}'s mask, as {@code [from, to)}
   * clipped to {@code [0, cols)}; empty when {@code from >= to}.
   */
  public static int[] visibleKeys(int cols, long query, int window) {
    long to = Math.min(cols, query + 1);
    long from = window > 0 ? Math.max(0, query - window + 1) : 0;
    return new int[] {(int) Math.min(from, cols), (int) Math.max(0, to)};
  }
}
