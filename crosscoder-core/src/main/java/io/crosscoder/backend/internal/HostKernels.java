package io.crosscoder.backend.internal;

import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.backend.Kernels;

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

  /**
   * The flat positions {@code r * cols + colIndex[t]} of the non-zeros of a sparse matrix in the row
   * form of {@link Kernels#spmm}, read through {@code kernels}, for the default {@link
   * Kernels#sddmm}: checks the dimensions, the row starts, the column indices and that {@code
   * outSize} (the size of the output named {@code outName}) holds every non-zero.
   *
   * @throws IllegalArgumentException if any of these is wrong, or the dense {@code rows x cols}
   *     matrix has 2^31 - 8 elements or more
   */
  public static int[] flatPositions(Kernels kernels, int rows, int cols, DeviceBuffer rowStart,
      DeviceBuffer colIndex, long outSize, String outName) {
    if (rows < 0 || cols < 0) {
      throw new IllegalArgumentException("dimensions must be non-negative: rows " + rows + ", cols " + cols);
    }
    if ((long) rows * cols > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("rows x cols = " + (long) rows * cols
          + " exceeds what the default sampled product handles (2^31 - 9)");
    }
    if (rowStart.size() < rows + 1L) {
      throw new IllegalArgumentException("rowStart has " + rowStart.size() + " elements, needs " + (rows + 1L));
    }
    int[] starts = new int[rows + 1];
    kernels.download(rowStart, 0, starts, 0, rows + 1);
    long nnz = KernelArguments.rowStarts(starts, rows, colIndex.size(), outSize);
    int[] flat = new int[(int) nnz];
    kernels.download(colIndex, 0, flat, 0, flat.length);
    for (int r = 0; r < rows; r++) {
      for (int t = starts[r]; t < starts[r + 1]; t++) {
        int c = flat[t];
        if (c < 0 || c >= cols) {
          throw new IllegalArgumentException("colIndex[" + t + "] = " + c + " is outside [0, " + cols + ")");
        }
        flat[t] = r * cols + c;
      }
    }
    if (outSize < nnz) {
      throw new IllegalArgumentException(outName + " has " + outSize + " elements, needs " + nnz);
    }
    return flat;
  }
}
