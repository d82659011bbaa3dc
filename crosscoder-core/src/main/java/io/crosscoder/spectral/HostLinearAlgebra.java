package io.crosscoder.spectral;

/**
 * The small dense linear algebra of the randomised SVD, in f64 on the host: orthonormalising the
 * {@code l} columns of a tall matrix ({@code O(m l^2)}) and the eigen-decomposition of an {@code l
 * x l} symmetric matrix ({@code O(l^3)}), with {@code l} at most a few dozen. The products with the
 * large matrix ({@code O(m n l)}) run on the backend's {@code sgemm}. Matrices here are
 * column-major {@code double[]}: element {@code (i, j)} of an {@code m}-row matrix is {@code a[j * m
 * + i]}.
 */
final class HostLinearAlgebra {
  private HostLinearAlgebra() {}

  /**
   * Orthonormalises the columns of the {@code m x cols} matrix {@code a} in place by modified
   * Gram-Schmidt applied twice ("twice is enough": orthogonal to working precision), dropping a
   * column whose norm after orthogonalisation is below {@code 1e-12} of its norm before (it lies in
   * the span of the earlier ones: a matrix of lower rank than the sketch). Kept columns are packed
   * to the front.
   *
   * @return the number of columns kept
   */
  static int orthonormalize(double[] a, int m, int cols) {
    int kept = 0;
    for (int j = 0; j < cols; j++) {
      int cj = j * m;
      double before = norm(a, cj, m);
      if (before == 0 || !Double.isFinite(before)) {
        continue;
      }
      for (int pass = 0; pass < 2; pass++) {
        for (int p = 0; p < kept; p++) {
          int cp = p * m;
          double dot = 0;
          for (int i = 0; i < m; i++) {
            dot += a[cp + i] * a[cj + i];
          }
          for (int i = 0; i < m; i++) {
            a[cj + i] -= dot * a[cp + i];
          }
        }
      }
      double after = norm(a, cj, m);
      if (after <= 1e-12 * before) {
        continue;
      }
      int ck = kept * m;
      for (int i = 0; i < m; i++) {
        a[ck + i] = a[cj + i] / after;
      }
      kept++;
    }
    return kept;
  }

  private static double norm(double[] a, int from, int m) {
    double s = 0;
    for (int i = 0; i < m; i++) {
      s += a[from + i] * a[from + i];
    }
    return Math.sqrt(s);
  }

  /** {@code a^T b} for column-major {@code a} ({@code m x p}) and {@code b} ({@code m x q}): a {@code p x q} column-major matrix. */
  static double[] transposeTimes(double[] a, int p, double[] b, int q, int m) {
    double[] out = new double[p * q];
    for (int j = 0; j < q; j++) {
      for (int i = 0; i < p; i++) {
        double s = 0;
        int ai = i * m;
        int bj = j * m;
        for (int r = 0; r < m; r++) {
          s += a[ai + r] * b[bj + r];
        }
        out[j * p + i] = s;
      }
    }
    return out;
  }

  /**
   * Eigenvalues and eigenvectors of the symmetric {@code n x n} column-major matrix {@code s} by
   * cyclic Jacobi rotations (to off-diagonal mass below {@code 1e-30} of the total, at most 100
   * sweeps), sorted by decreasing eigenvalue.
   *
   * @return {@code values} (length n) and {@code vectors} (column-major, column {@code i} belongs to
   *     value {@code i})
   */
  static Eigen symmetricEigen(double[] s, int n) {
    double[] a = s.clone();
    double[] v = new double[n * n];
    for (int i = 0; i < n; i++) {
      v[i * n + i] = 1;
    }
    double total = 0;
    for (double x : a) {
      total += x * x;
    }
    for (int sweep = 0; sweep < 100; sweep++) {
      double off = 0;
      for (int p = 0; p < n; p++) {
        for (int q = p + 1; q < n; q++) {
          off += 2 * a[q * n + p] * a[q * n + p];
        }
      }
      if (off <= 1e-30 * total || off == 0) {
        break;
      }
      for (int p = 0; p < n; p++) {
        for (int q = p + 1; q < n; q++) {
          double apq = a[q * n + p];
          if (apq == 0) {
            continue;
          }
          double app = a[p * n + p];
          double aqq = a[q * n + q];
          double theta = (aqq - app) / (2 * apq);
          double t = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
          if (theta == 0) {
            t = 1;
          }
          double c = 1 / Math.sqrt(t * t + 1);
          double sn = t * c;
          for (int k = 0; k < n; k++) {
            double akp = a[p * n + k];
            double akq = a[q * n + k];
            a[p * n + k] = c * akp - sn * akq;
            a[q * n + k] = sn * akp + c * akq;
          }
          for (int k = 0; k < n; k++) {
            double apk = a[k * n + p];
            double aqk = a[k * n + q];
            a[k * n + p] = c * apk - sn * aqk;
            a[k * n + q] = sn * apk + c * aqk;
          }
          for (int k = 0; k < n; k++) {
            double vkp = v[p * n + k];
            double vkq = v[q * n + k];
            v[p * n + k] = c * vkp - sn * vkq;
            v[q * n + k] = sn * vkp + c * vkq;
          }
        }
      }
    }
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    double[] diag = new double[n];
    for (int i = 0; i < n; i++) {
      diag[i] = a[i * n + i];
    }
    java.util.Arrays.sort(order, (x, y) -> Double.compare(diag[y], diag[x]));
    double[] values = new double[n];
    double[] vectors = new double[n * n];
    for (int i = 0; i < n; i++) {
      values[i] = diag[order[i]];
      System.arraycopy(v, order[i] * n, vectors, i * n, n);
    }
    return new Eigen(values, vectors);
  }

  /** Eigenvalues (decreasing) and their eigenvectors (column-major). */
  record Eigen(double[] values, double[] vectors) {}
}
