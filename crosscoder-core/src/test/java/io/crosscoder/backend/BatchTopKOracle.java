package io.crosscoder.backend;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What {@link Kernels#batchTopKToCsr} must return, from a plain ranking of every score {@code x[i]
 * * scale[i % cols]} (descending by {@link Float#compare}, then position): the first {@code keep}
 * are kept, and the rows list the kept positive ones with {@code x}'s values. Shared by the
 * conformance suite and the CPU's sampled-selection test.
 *
 * @param rowStart the {@code rows + 1} row starts
 * @param colIndex the columns of the kept positive scores, row by row
 * @param values their values of {@code x}
 * @param minKept the smallest kept score
 */
public record BatchTopKOracle(int[] rowStart, int[] colIndex, float[] values, float minKept) {
  /**
   * Ranks the scores of the row-major {@code rows x cols} matrix {@code x}; {@code keep} 0 keeps
   * none, and {@code minKept} is then +infinity.
   */
  public static BatchTopKOracle of(float[] x, float[] scale, int rows, int cols, long keep) {
    int n = rows * cols;
    Integer[] order = new Integer[n];
    float[] score = new float[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
      score[i] = x[i] * scale[i % cols];
    }
    Arrays.sort(order, (a, b) -> Float.compare(score[b], score[a]) != 0 ? Float.compare(score[b], score[a]) : a - b);
    int kept = (int) Math.min(keep, n);
    boolean[] keptAt = new boolean[n];
    float minKept = Float.POSITIVE_INFINITY;
    for (int t = 0; t < kept; t++) {
      keptAt[order[t]] = true;
      minKept = score[order[t]];
    }
    int[] rowStart = new int[rows + 1];
    List<Integer> cols0 = new ArrayList<>();
    List<Float> values = new ArrayList<>();
    for (int row = 0; row < rows; row++) {
      for (int c = 0; c < cols; c++) {
        int i = row * cols + c;
        if (keptAt[i] && score[i] > 0f) {
          cols0.add(c);
          values.add(x[i]);
        }
      }
      rowStart[row + 1] = cols0.size();
    }
    float[] v = new float[values.size()];
    for (int t = 0; t < v.length; t++) {
      v[t] = values.get(t);
    }
    return new BatchTopKOracle(rowStart, cols0.stream().mapToInt(Integer::intValue).toArray(), v, minKept);
  }

  /** Kept positive scores: the rows' length. */
  public int nnz() {
    return colIndex.length;
  }
}
