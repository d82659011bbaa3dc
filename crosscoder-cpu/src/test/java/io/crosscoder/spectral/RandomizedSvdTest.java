package io.crosscoder.spectral;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.cpu.kernels.CpuKernels;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import io.crosscoder.testing.InMemoryCheckpoint;
import java.util.Random;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The randomised SVD against Commons Math's SVD (a dense one-sided Jacobi/Golub-Kahan
 * decomposition in f64) on small matrices, and the spectral analysis against planted low-rank
 * updates of known singular values, whose energy rank it must recover exactly.
 */
class RandomizedSvdTest {
  private static CpuKernels kernels;

  @BeforeAll
  static void open() {
    kernels = new CpuKernels(2, true);
  }

  @AfterAll
  static void close() {
    kernels.close();
  }

  private static RandomizedSvd.Rows rows(float[] x, int n) {
    return (row, count, dst) -> System.arraycopy(x, (int) row * n, dst, 0, count * n);
  }

  private static RealMatrix matrix(float[] x, int m, int n) {
    double[][] d = new double[m][n];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        d[i][j] = x[i * n + j];
      }
    }
    return new Array2DRowRealMatrix(d, false);
  }

  /** {@code U diag(s) V^T} with random orthonormal {@code U} ({@code m x r}) and {@code V} ({@code n x r}). */
  private static double[][] planted(Random rnd, int m, int n, double[] s) {
    int r = s.length;
    RealMatrix u = orthonormal(rnd, m, r);
    RealMatrix v = orthonormal(rnd, n, r);
    double[][] out = new double[m][n];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double x = 0;
        for (int k = 0; k < r; k++) {
          x += u.getEntry(i, k) * s[k] * v.getEntry(j, k);
        }
        out[i][j] = x;
      }
    }
    return out;
  }

  private static RealMatrix orthonormal(Random rnd, int m, int r) {
    double[][] g = new double[m][r];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < r; j++) {
        g[i][j] = rnd.nextGaussian();
      }
    }
    return new org.apache.commons.math3.linear.QRDecomposition(new Array2DRowRealMatrix(g)).getQ()
        .getSubMatrix(0, m - 1, 0, r - 1);
  }

  @Test
  void fullSketchGivesTheSingularValuesOfCommonsMath() {
    Random rnd = new Random(1);
    for (int[] mn : new int[][] {{40, 30}, {30, 40}, {123, 77}, {5, 200}}) {
      int m = mn[0];
      int n = mn[1];
      float[] x = new float[m * n];
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) rnd.nextGaussian();
      }
      RandomizedSvd.Sketch s = RandomizedSvd.sketch(kernels, rows(x, n), m, n, Math.min(m, n), 1, 7);
      double[] expected = new SingularValueDecomposition(matrix(x, m, n)).getSingularValues();
      assertThat(s.rank()).isEqualTo(Math.min(m, n));
      for (int i = 0; i < expected.length; i++) {
        assertThat(s.singularValues()[i]).as(m + "x" + n + " sigma " + i).isCloseTo(expected[i],
            within(2e-5 * expected[0]));
      }
      double fro = 0;
      for (float v : x) {
        fro += (double) v * v;
      }
      assertThat(s.frobeniusSquared()).isCloseTo(fro, within(1e-9 * fro));
      assertThat(s.energyCaptured()).isCloseTo(1, within(1e-5));
      // Left singular vectors: |u_i . u_i(Commons Math)| = 1 for the well-separated top ones.
      RealMatrix u = new SingularValueDecomposition(matrix(x, m, n)).getU();
      for (int i = 0; i < 3; i++) {
        double dot = 0;
        for (int r = 0; r < m; r++) {
          dot += s.leftVectors()[i * m + r] * u.getEntry(r, i);
        }
        assertThat(Math.abs(dot)).as("u_" + i).isCloseTo(1, within(1e-3));
      }
    }
  }

  @Test
  void aPartialSketchStaysWithinItsStatedError() {
    // Slowly decaying spectrum: sigma_i = 1 / (1 + i)^0.5 over 120 directions, sketch of 20.
    Random rnd = new Random(2);
    int m = 200;
    int n = 150;
    double[] s = new double[120];
    for (int i = 0; i < s.length; i++) {
      s[i] = 1 / Math.sqrt(1 + i);
    }
    double[][] d = planted(rnd, m, n, s);
    float[] x = new float[m * n];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        x[i * n + j] = (float) d[i][j];
      }
    }
    double[] exact = new SingularValueDecomposition(matrix(x, m, n)).getSingularValues();
    RandomizedSvd.Sketch sk = RandomizedSvd.sketch(kernels, rows(x, n), m, n, 20, 2, 11);
    assertThat(sk.errorBound()).isPositive();
    for (int i = 0; i < 20; i++) {
      double est = sk.singularValues()[i];
      assertThat(est).as("sigma " + i + " from below").isLessThanOrEqualTo(exact[i] * (1 + 1e-5));
      assertThat(est).as("sigma " + i + " within the bound").isGreaterThanOrEqualTo(exact[i] - sk.errorBound());
    }
    // The energy outside the sketch is exact: |X|_F^2 - sum of the captured squares.
    double tail = 0;
    for (double v : exact) {
      tail += v * v;
    }
    double captured = 0;
    for (double v : sk.singularValues()) {
      captured += v * v;
    }
    assertThat(sk.frobeniusSquared()).isCloseTo(tail, within(1e-6 * tail));
    assertThat(captured).isLessThanOrEqualTo(tail * (1 + 1e-6));
  }

  @Test
  void plantedLowRankUpdatesHaveTheirRankRecoveredExactly() {
    Random rnd = new Random(3);
    int m = 320;
    int n = 256;
    for (int rank : new int[] {1, 4, 8, 16, 24}) {
      try (InMemoryCheckpoint c = new InMemoryCheckpoint("planted")) {
        float[] a = new float[m * n];
        for (int i = 0; i < a.length; i++) {
          a[i] = (float) (0.02 * rnd.nextGaussian());
        }
        double[] s = new double[rank];
        for (int i = 0; i < rank; i++) {
          s[i] = 0.5 + 0.5 * (rank - i) / rank;
        }
        double[][] d = planted(rnd, m, n, s);
        float[] b = new float[m * n];
        for (int i = 0; i < m; i++) {
          for (int j = 0; j < n; j++) {
            b[i * n + j] = (float) (a[i * n + j] + d[i][j]);
          }
        }
        c.add("a", DType.F32, new long[] {m, n}, a);
        c.add("b", DType.F32, new long[] {m, n}, b);
        TensorView va = c.tensor("a");
        TensorView vb = c.tensor("b");
        MatrixSpectrum sp = SpectralAnalysis.analyze(kernels, va, vb, "w", stats(a, b),
            SpectralOptions.DEFAULTS.withEnergyEpsilon(1e-3));
        // D = B - A in f32 is the planted D up to rounding: its energy rank at 99.9% is exactly
        // the planted rank (each planted direction holds at least 1/(4 rank) of the energy).
        if (rank <= SpectralOptions.DEFAULTS.sketchSize()) {
          assertThat(sp.energyRank()).as("rank " + rank).isEqualTo(rank);
        }
        double fro = 0;
        for (double v : s) {
          fro += v * v;
        }
        assertThat(sp.sigmaMax()).as("sigma_max").isCloseTo(s[0], within(1e-4));
        assertThat(sp.stableRank()).as("stable rank").isCloseTo(fro / (s[0] * s[0]), within(1e-3));
        assertThat(sp.energyCaptured()).isCloseTo(1, within(1e-5));
      }
    }
  }

  @Test
  void aFullRankChangeHasNoSmallEnergyRank() {
    Random rnd = new Random(4);
    int m = 300;
    int n = 200;
    try (InMemoryCheckpoint c = new InMemoryCheckpoint("full")) {
      float[] a = new float[m * n];
      float[] b = new float[m * n];
      for (int i = 0; i < a.length; i++) {
        a[i] = (float) rnd.nextGaussian();
        b[i] = (float) (a[i] + 0.1 * rnd.nextGaussian());
      }
      c.add("a", DType.F32, new long[] {m, n}, a);
      c.add("b", DType.F32, new long[] {m, n}, b);
      MatrixSpectrum sp = SpectralAnalysis.analyze(kernels, c.tensor("a"), c.tensor("b"), "w", stats(a, b),
          SpectralOptions.DEFAULTS);
      // Gaussian noise spreads its energy over all 200 directions: 32 hold far less than 90%.
      assertThat(sp.energyRank()).isInfinite();
      assertThat(sp.energyCaptured()).isBetween(0.1, 0.6);
      // Marchenko-Pastur: sigma_max of a 300 x 200 matrix of N(0, 0.01) is about 0.1 (sqrt 300 + sqrt 200) = 3.15.
      assertThat(sp.sigmaMax()).isBetween(2.9, 3.4);
      // B = A + small noise keeps A's dominant directions: high overlap.
      assertThat(sp.subspaceOverlap()).isGreaterThan(0.5);
    }
  }

  @Test
  void principalAnglesMatchCommonsMath() {
    // Two matrices with a clear spectral gap after k = 4, whose top subspaces are rotated apart.
    Random rnd = new Random(5);
    int m = 150;
    int n = 100;
    int k = 4;
    RealMatrix u1 = orthonormal(rnd, m, n);
    RealMatrix v = orthonormal(rnd, n, n);
    double[] s = new double[n];
    for (int i = 0; i < n; i++) {
      s[i] = i < k ? 10 - i : 0.01;
    }
    // The second matrix mixes the first's top directions with its 5th-8th: partial overlap.
    RealMatrix u2 = u1.copy();
    double angle = 0.6;
    for (int j = 0; j < k; j++) {
      for (int i = 0; i < m; i++) {
        double a = u1.getEntry(i, j);
        double b = u1.getEntry(i, j + k);
        u2.setEntry(i, j, Math.cos(angle * (j + 1) / k) * a + Math.sin(angle * (j + 1) / k) * b);
        u2.setEntry(i, j + k, -Math.sin(angle * (j + 1) / k) * a + Math.cos(angle * (j + 1) / k) * b);
      }
    }
    float[] x1 = build(u1, s, v, m, n);
    float[] x2 = build(u2, s, v, m, n);
    RandomizedSvd.Sketch a = RandomizedSvd.sketch(kernels, rows(x1, n), m, n, 16, 2, 9);
    RandomizedSvd.Sketch b = RandomizedSvd.sketch(kernels, rows(x2, n), m, n, 16, 2, 9);
    double[] cos = SpectralAnalysis.principalCosines(a, b, k);
    RealMatrix ua = new SingularValueDecomposition(matrix(x1, m, n)).getU().getSubMatrix(0, m - 1, 0, k - 1);
    RealMatrix ub = new SingularValueDecomposition(matrix(x2, m, n)).getU().getSubMatrix(0, m - 1, 0, k - 1);
    double[] expected = new SingularValueDecomposition(ua.transpose().multiply(ub)).getSingularValues();
    assertThat(cos).hasSize(k);
    for (int i = 0; i < k; i++) {
      assertThat(cos[i]).as("cos theta " + i).isCloseTo(expected[i], within(1e-4));
    }
    // And the closed form: the rotations were by 0.15, 0.3, 0.45, 0.6 radians.
    for (int i = 0; i < k; i++) {
      assertThat(cos[i]).isCloseTo(Math.cos(angle * (i + 1) / k), within(1e-4));
    }
  }

  @Test
  void symmetricEigenMatchesCommonsMath() {
    Random rnd = new Random(6);
    int n = 12;
    double[][] g = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j <= i; j++) {
        g[i][j] = g[j][i] = rnd.nextGaussian();
      }
    }
    double[] col = new double[n * n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        col[j * n + i] = g[i][j];
      }
    }
    HostLinearAlgebra.Eigen e = HostLinearAlgebra.symmetricEigen(col, n);
    double[] expected = new org.apache.commons.math3.linear.EigenDecomposition(new Array2DRowRealMatrix(g))
        .getRealEigenvalues();
    java.util.Arrays.sort(expected);
    for (int i = 0; i < n; i++) {
      assertThat(e.values()[i]).isCloseTo(expected[n - 1 - i], within(1e-10));
      // A v = lambda v.
      for (int r = 0; r < n; r++) {
        double av = 0;
        for (int c = 0; c < n; c++) {
          av += g[r][c] * e.vectors()[i * n + c];
        }
        assertThat(av).isCloseTo(e.values()[i] * e.vectors()[i * n + r], within(1e-9));
      }
    }
  }

  private static float[] build(RealMatrix u, double[] s, RealMatrix v, int m, int n) {
    float[] x = new float[m * n];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double t = 0;
        for (int k = 0; k < s.length; k++) {
          t += u.getEntry(i, k) * s[k] * v.getEntry(j, k);
        }
        x[i * n + j] = (float) t;
      }
    }
    return x;
  }

  private static PairStatistics stats(float[] a, float[] b) {
    long changed = 0;
    for (int i = 0; i < a.length; i++) {
      if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
        changed++;
      }
    }
    return new PairStatistics(a.length, 0, 0, 0, 0, 0, changed, 0, null);
  }
}
