package io.crosscoder.metric;

import java.util.Arrays;

/**
 * Per-row sums of a matrix pair: for logical row {@code r}, {@code dot[r] = sum_j A_rj B_rj} and
 * the squared norms of both rows. For embeddings and LM heads a row is a token, so these say
 * which tokens moved. Backends write disjoint row ranges from several threads; reads happen
 * after all writes have completed.
 */
public final class RowStatistics {
  private final double[] dot;
  private final double[] baseSquares;
  private final double[] targetSquares;
  private double[] sorted;

  /**
   * Zeroed sums for {@code rows} rows.
   *
   * @param rows the matrix's logical rows, at least 0 (three {@code double}s are allocated per row)
   */
  public RowStatistics(int rows) {
    dot = new double[rows];
    baseSquares = new double[rows];
    targetSquares = new double[rows];
  }

  /** {@return the number of rows} */
  public int rows() {
    return dot.length;
  }

  /**
   * Stores the sums of row {@code r}. Threads may set disjoint rows concurrently.
   *
   * @param r the row, in {@code [0, rows())}
   * @param rowDot {@code sum_j A_rj B_rj}
   * @param rowBaseSquares {@code sum_j A_rj^2}
   * @param rowTargetSquares {@code sum_j B_rj^2}
   */
  public void set(int r, double rowDot, double rowBaseSquares, double rowTargetSquares) {
    dot[r] = rowDot;
    baseSquares[r] = rowBaseSquares;
    targetSquares[r] = rowTargetSquares;
  }

  /**
   * {@return {@code sum_j A_rj B_rj} of row {@code r}}
   *
   * @param r the row, in {@code [0, rows())}
   */
  public double dot(int r) {
    return dot[r];
  }

  /**
   * {@return {@code sum_j A_rj^2} of row {@code r}}
   *
   * @param r the row, in {@code [0, rows())}
   */
  public double baseSquares(int r) {
    return baseSquares[r];
  }

  /**
   * {@return {@code sum_j B_rj^2} of row {@code r}}
   *
   * @param r the row, in {@code [0, rows())}
   */
  public double targetSquares(int r) {
    return targetSquares[r];
  }

  /**
   * {@return the cosine of row {@code r}, with the zero-norm rule of {@link
   * PairStatistics#cosine(double, double, double)}}
   *
   * @param r the row, in {@code [0, rows())}
   */
  public double cosine(int r) {
    return PairStatistics.cosine(dot[r], baseSquares[r], targetSquares[r]);
  }

  /**
   * The cosines of all rows, sorted ascending; computed once, after all rows were written, and
   * shared by the row metrics (a copy is returned).
   *
   * @return the sorted cosines, NaN last; a fresh copy
   */
  public synchronized double[] sortedCosines() {
    if (sorted == null) {
      double[] c = new double[rows()];
      for (int r = 0; r < c.length; r++) {
        c[r] = cosine(r);
      }
      Arrays.sort(c);
      sorted = c;
    }
    return sorted.clone();
  }

  /**
   * The {@code n} rows with the lowest cosine, lowest first (ties: lower row first), found in one
   * pass that keeps the {@code n} best so far in two small sorted arrays (a row enters only when it
   * beats the worst kept, which after the first rows is rare).
   *
   * @param n how many rows are wanted, at least 0
   * @return the {@code min(n, rows())} row indices, lowest cosine first (NaN cosines rank last)
   */
  public int[] lowestRows(int n) {
    int k = Math.min(n, rows());
    int[] keptRows = new int[k];
    double[] keptCosines = new double[k];
    int count = 0;
    for (int r = 0; r < rows() && k > 0; r++) {
      double c = cosine(r);
      // Rows come in increasing order, so a tie with the worst kept row never displaces it.
      if (count == k && Double.compare(c, keptCosines[k - 1]) >= 0) {
        continue;
      }
      int at = count == k ? k - 1 : count++;
      while (at > 0 && Double.compare(c, keptCosines[at - 1]) < 0) {
        keptCosines[at] = keptCosines[at - 1];
        keptRows[at] = keptRows[at - 1];
        at--;
      }
      keptCosines[at] = c;
      keptRows[at] = r;
    }
    return keptRows;
  }
}
