package io.crosscoder.spectral;

import io.crosscoder.backend.Kernels;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.lang.foreign.MemorySegment;

/**
 * The spectral structure of one matrix pair (base {@code A}, target {@code B}, {@code D = B - A}):
 * three randomised SVDs on the backend's kernels, of {@code D} (its singular values: {@code
 * sigma_max}, stable rank, energy rank) and of {@code A} and {@code B} (their top-{@code k} left
 * singular subspaces, compared by principal angles). {@code D} is formed a block of rows at a time
 * ({@code B_i - A_i} in f32, as the fused pass forms it) and never stored whole.
 *
 * <p>Cost: {@code 2q + 3} passes over each of the three matrices, each pass an {@code m x n x l}
 * product on the backend (Qwen2-1.5B's MLP matrix, {@code 8960 x 1536} with {@code l = 32}, {@code q
 * = 2}: about 6 GFLOP for the three), plus {@code O(m l^2)} f64 work on the host.
 */
public final class SpectralAnalysis {
  private SpectralAnalysis() {}

  /**
   * Tells which tensor pairs get a spectral analysis: matrices of at least 2 rows and 2 columns,
   * with at most {@code Integer.MAX_VALUE} rows and a row that fits in one block ({@link
   * RandomizedSvd#BLOCK_BYTES} / 4 columns).
   *
   * @param base the pair's base tensor (both sides have its shape)
   * @return whether {@link #analyze} applies to the pair
   */
  public static boolean applies(TensorView base) {
    long[] s = base.shape();
    return s.length == 2 && s[0] >= 2 && s[1] >= 2 && s[0] <= Integer.MAX_VALUE && s[1] <= Integer.MAX_VALUE
        && s[1] <= RandomizedSvd.BLOCK_BYTES / 4;
  }

  /**
   * Analyses one pair. {@code statistics} are the pair's fused-pass sums: a pair without changed
   * elements has {@code D = 0} and is not sketched (its subspaces coincide: overlap 1).
   *
   * @param kernels where the products run; the caller keeps them open and closes them
   * @param a the base matrix, one that {@link #applies}
   * @param b the target matrix, of the same shape
   * @param name the tensor's name, mixed into the seed so that each tensor gets its own test
   *     matrices
   * @param statistics the pair's fused-pass sums
   * @param options rank, sketch size, power iterations, energy threshold and seed
   * @return the spectrum, or null when the pair holds NaN or infinite elements (a sketch would be
   *     meaningless)
   */
  public static MatrixSpectrum analyze(Kernels kernels, TensorView a, TensorView b, String name,
      PairStatistics statistics, SpectralOptions options) {
    if (statistics.nonFinite() > 0) {
      return null;
    }
    if (statistics.changed() == 0) {
      return new MatrixSpectrum(0, Double.NaN, 0, 1, 1, 1, 0, 0);
    }
    int m = (int) a.rows();
    int n = (int) a.columns();
    long seed = options.seed() ^ (name.hashCode() * 0x9E3779B97F4A7C15L);
    int l = options.sketchSize();
    int q = options.powerIterations();
    RandomizedSvd.Rows ra = rows(a, n);
    RandomizedSvd.Rows rb = rows(b, n);
    RandomizedSvd.Rows d = (row, count, dst) -> {
      float[] other = new float[count * n];
      ra.read(row, count, other);
      rb.read(row, count, dst);
      for (int i = 0; i < count * n; i++) {
        dst[i] = dst[i] - other[i];
      }
    };
    RandomizedSvd.Sketch sd = RandomizedSvd.sketch(kernels, d, m, n, l, q, seed);
    RandomizedSvd.Sketch sa = RandomizedSvd.sketch(kernels, ra, m, n, l, q, seed + 1);
    RandomizedSvd.Sketch sb = RandomizedSvd.sketch(kernels, rb, m, n, l, q, seed + 1);

    double[] sigma = sd.singularValues();
    double total = sd.frobeniusSquared();
    double sigmaMax = sigma.length == 0 ? 0 : sigma[0];
    double stable = sigmaMax == 0 ? Double.NaN : total / (sigmaMax * sigmaMax);
    double energyRank = Double.POSITIVE_INFINITY;
    double cumulative = 0;
    double target = (1 - options.energyEpsilon()) * total;
    if (total == 0) {
      energyRank = 0;
    } else {
      for (int i = 0; i < sigma.length; i++) {
        cumulative += sigma[i] * sigma[i];
        if (cumulative >= target) {
          energyRank = i + 1;
          break;
        }
      }
    }
    double[] angles = principalCosines(sa, sb, options.rank());
    double overlap = 0;
    double minCos = angles.length == 0 ? Double.NaN : 1;
    for (double c : angles) {
      overlap += c * c;
      minCos = Math.min(minCos, c);
    }
    overlap = angles.length == 0 ? Double.NaN : overlap / angles.length;
    return new MatrixSpectrum(sigmaMax, stable, energyRank, sd.energyCaptured(), overlap, minCos, sd.errorBound(),
        sd.rank());
  }

  /**
   * Cosines of the principal angles between the spans of the first {@code k} left singular vectors
   * of two sketches: the singular values of {@code U_A^T U_B}, decreasing.
   */
  static double[] principalCosines(RandomizedSvd.Sketch a, RandomizedSvd.Sketch b, int k) {
    int ka = Math.min(k, a.rank());
    int kb = Math.min(k, b.rank());
    int m = (int) a.rows();
    if (ka == 0 || kb == 0) {
      return new double[0];
    }
    double[] cross = HostLinearAlgebra.transposeTimes(a.leftVectors(), ka, b.leftVectors(), kb, m);
    // Singular values of the ka x kb matrix from the eigenvalues of its kb x kb Gram matrix.
    double[] gram = HostLinearAlgebra.transposeTimes(cross, kb, cross, kb, ka);
    HostLinearAlgebra.Eigen e = HostLinearAlgebra.symmetricEigen(gram, kb);
    int count = Math.min(ka, kb);
    double[] out = new double[count];
    for (int i = 0; i < count; i++) {
      out[i] = Math.min(1, Math.sqrt(Math.max(0, e.values()[i])));
    }
    return out;
  }

  /** Rows of a matrix as f32: plain F32 copied in bulk from its segment, anything else through {@link TensorView#readRow}. */
  private static RandomizedSvd.Rows rows(TensorView t, int n) {
    if (t.isPlainFloat() && t.dtype() == DType.F32) {
      MemorySegment data = t.data();
      return (row, count, dst) -> MemorySegment.copy(data, TensorView.Layouts.F32, row * n * 4L, dst, 0, count * n);
    }
    return (row, count, dst) -> {
      for (int i = 0; i < count; i++) {
        t.readRow(row + i, 0, dst, i * n, n);
      }
    };
  }
}
