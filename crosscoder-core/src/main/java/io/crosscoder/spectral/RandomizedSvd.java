package io.crosscoder.spectral;

import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.backend.Kernels;
import io.crosscoder.tensor.DType;
import java.util.SplittableRandom;

/**
 * The randomised SVD of Halko, Martinsson and Tropp ("Finding structure with randomness", SIAM
 * Review 53(2), 2011; algorithms 4.4 and 5.1 with the a-posteriori estimate of section 4.3) of an
 * {@code m x n} matrix {@code X} read a block of rows at a time, with every product against {@code
 * X} computed by a {@link Kernels#sgemm} and the small factors handled in f64 on the host:
 *
 * <ol>
 *   <li>{@code Y = X Omega} for a Gaussian {@code n x l} test matrix {@code Omega} from the seed;
 *       {@code Q = orth(Y)};
 *   <li>{@code q} times: {@code W = orth(X^T Q)}, {@code Q = orth(X W)} (subspace iteration, which
 *       sharpens the decay of the spectrum to its {@code 2q+1}-th power);
 *   <li>{@code Z = X^T Q}; the singular values of {@code X} are estimated by those of {@code Q^T X
 *       = Z^T}, from the eigen-decomposition {@code Z^T Z = V Lambda V^T}: {@code sigma_i =
 *       sqrt(lambda_i)}, left singular vectors {@code U = Q V}.
 * </ol>
 *
 * <p><b>Error.</b> With {@code E = X - Q Q^T X}, Weyl's inequality gives {@code sigma_i(X) - |E| <=
 * sigma_i <= sigma_i(X)} for every estimate. {@code |E|} (spectral norm) is bounded a posteriori
 * from {@code t = 10} further Gaussian vectors: {@code |E| <= 10 sqrt(2/pi) max_j |E omega_j|} with
 * probability at least {@code 1 - 10^-10} (Halko et al., eq. 4.3); that bound is {@link
 * Sketch#errorBound()}. The energy outside the sketch, {@code |X|_F^2 - sum sigma_i^2 = |E|_F^2},
 * is known exactly, since {@code |X|_F^2} is summed in f64 while the rows are read. Products run in
 * f32, which adds a relative error of order {@code 1e-6} to the estimates. A matrix of rank {@code r
 * < l} is captured exactly: {@code Y} then has rank {@code r}, the columns beyond it are dropped
 * when orthonormalised, and the estimates are its singular values to f32 precision.
 *
 * <p>Deterministic for a seed and backend. Memory: the backend holds {@code X} in f32 when it
 * is at most {@link #RESIDENT_BYTES} (read once), else a block of rows ({@link #BLOCK_BYTES}, read
 * again for each pass), and {@code (n + rows in block) * l} floats; the host holds a block of rows
 * and {@code m * l} doubles a few times over.
 */
public final class RandomizedSvd {
  /** Bytes of {@code X} per block of rows sent to the backend when {@code X} is streamed. */
  public static final long BLOCK_BYTES = 16L << 20;
  /**
   * Matrices of at most this many bytes (as f32) are read once and kept on the backend for all
   * passes (Qwen2-1.5B's 151936 x 1536 embedding is 933 MB); larger ones (a 7B model's 152064 x
   * 3584 embedding) are read again, a block at a time, for each pass.
   */
  public static final long RESIDENT_BYTES = 1L << 30;
  /** Gaussian vectors of the a-posteriori error estimate. */
  public static final int ERROR_VECTORS = 10;

  private RandomizedSvd() {}

  /** Reads rows of the matrix as f32. */
  @FunctionalInterface
  public interface Rows {
    /**
     * Writes rows {@code [row, row + count)} into {@code dst} (row-major, {@code count * n} floats).
     *
     * @param row the first row, in {@code [0, m)}
     * @param count how many rows, with {@code row + count <= m}
     * @param dst the sketch's array, at least {@code count * n} long, written from index 0
     */
    void read(long row, int count, float[] dst);
  }

  /**
   * The estimates for one matrix.
   *
   * @param rows {@code m}
   * @param columns {@code n}
   * @param singularValues the {@code rank} estimates, decreasing
   * @param leftVectors {@code U}, column-major {@code m x rank} (column {@code i} for value {@code i})
   * @param rank columns of the orthonormal basis {@code Q} (at most the sketch size {@code l}; fewer
   *     for a matrix of lower rank)
   * @param frobeniusSquared {@code |X|_F^2}, exact (f64 sum of the f32 elements)
   * @param errorBound the a-posteriori bound on {@code |X - Q Q^T X|} (spectral norm)
   */
  public record Sketch(long rows, long columns, double[] singularValues, double[] leftVectors, int rank,
      double frobeniusSquared, double errorBound) {
    /**
     * {@return {@code sum_i sigma_i^2 / |X|_F^2}: the share of the energy the sketch captured, in
     * [0, 1] (1 for a zero matrix)}
     */
    public double energyCaptured() {
      double s = 0;
      for (double v : singularValues) {
        s += v * v;
      }
      return frobeniusSquared == 0 ? 1 : Math.min(1, s / frobeniusSquared);
    }
  }

  /**
   * Sketches {@code X}.
   *
   * @param kernels where the products with {@code X} run; not closed
   * @param x the rows of {@code X}
   * @param m rows, at least 1
   * @param n columns, at least 1
   * @param l sketch size (clamped to {@code min(m, n)})
   * @param powerIterations {@code q >= 0}
   * @param seed seed of the Gaussian test matrices
   * @return the estimates
   * @throws IllegalArgumentException if {@code m}, {@code n} or {@code l} is below 1 or {@code
   *     powerIterations} is negative
   */
  public static Sketch sketch(Kernels kernels, Rows x, int m, int n, int l, int powerIterations, long seed) {
    if (m < 1 || n < 1 || l < 1 || powerIterations < 0) {
      throw new IllegalArgumentException("need m, n, l >= 1 and q >= 0; got m " + m + ", n " + n + ", l " + l
          + ", q " + powerIterations);
    }
    int size = Math.min(l, Math.min(m, n));
    boolean resident = 4L * m * n <= RESIDENT_BYTES;
    int block = resident ? m : (int) Math.max(1, Math.min(m, BLOCK_BYTES / 4 / n));
    SplittableRandom rnd = new SplittableRandom(seed);
    float[] omega = gaussian(rnd, n * size);
    float[] test = gaussian(rnd, n * ERROR_VECTORS);
    float[] rows = new float[(int) Math.min((long) block * n, BLOCK_BYTES / 4 / n * n)];
    try (DeviceBuffer xb = kernels.allocate(DType.F32, (long) block * n);
        DeviceBuffer small = kernels.allocate(DType.F32, (long) block * Math.max(size, ERROR_VECTORS));
        DeviceBuffer wide = kernels.allocate(DType.F32, (long) n * Math.max(size, ERROR_VECTORS))) {
      Pass pass = new Pass(kernels, x, m, n, block, rows, xb, small, wide, resident);
      // Y = X Omega, and |X|_F^2 on the way.
      double[] q = pass.times(omega, size);
      double frobenius = pass.frobeniusSquared;
      int rank = HostLinearAlgebra.orthonormalize(q, m, size);
      for (int it = 0; it < powerIterations && rank > 0; it++) {
        double[] w = pass.transposeTimes(q, rank);
        int wr = HostLinearAlgebra.orthonormalize(w, n, rank);
        q = pass.times(toRowMajor(w, n, wr), wr);
        rank = HostLinearAlgebra.orthonormalize(q, m, wr);
      }
      if (rank == 0) {
        return new Sketch(m, n, new double[0], new double[0], 0, frobenius, 0);
      }
      double[] z = pass.transposeTimes(q, rank);
      double[] gram = HostLinearAlgebra.transposeTimes(z, rank, z, rank, n);
      HostLinearAlgebra.Eigen eig = HostLinearAlgebra.symmetricEigen(gram, rank);
      double[] sigma = new double[rank];
      for (int i = 0; i < rank; i++) {
        sigma[i] = Math.sqrt(Math.max(0, eig.values()[i]));
      }
      double[] u = new double[m * rank];
      for (int j = 0; j < rank; j++) {
        for (int p = 0; p < rank; p++) {
          double c = eig.vectors()[j * rank + p];
          if (c == 0) {
            continue;
          }
          int qp = p * m;
          int uj = j * m;
          for (int i = 0; i < m; i++) {
            u[uj + i] += c * q[qp + i];
          }
        }
      }
      // |E omega_j| for the test vectors: T = X Omega_t, then T - Q (Q^T T).
      double[] t = pass.times(test, ERROR_VECTORS);
      double[] qt = HostLinearAlgebra.transposeTimes(q, rank, t, ERROR_VECTORS, m);
      double worst = 0;
      for (int j = 0; j < ERROR_VECTORS; j++) {
        double s = 0;
        for (int i = 0; i < m; i++) {
          double r = t[j * m + i];
          for (int p = 0; p < rank; p++) {
            r -= q[p * m + i] * qt[j * rank + p];
          }
          s += r * r;
        }
        worst = Math.max(worst, Math.sqrt(s));
      }
      double bound = 10 * Math.sqrt(2 / Math.PI) * worst;
      return new Sketch(m, n, sigma, u, rank, frobenius, bound);
    }
  }

  private static float[] gaussian(SplittableRandom rnd, int count) {
    float[] out = new float[count];
    for (int i = 0; i < count; i += 2) {
      // Box-Muller from two uniforms in (0, 1].
      double u1 = 1 - rnd.nextDouble();
      double u2 = rnd.nextDouble();
      double r = Math.sqrt(-2 * Math.log(u1));
      out[i] = (float) (r * Math.cos(2 * Math.PI * u2));
      if (i + 1 < count) {
        out[i + 1] = (float) (r * Math.sin(2 * Math.PI * u2));
      }
    }
    return out;
  }

  /** Column-major {@code rows x cols} doubles as row-major floats. */
  private static float[] toRowMajor(double[] a, int rows, int cols) {
    float[] out = new float[rows * cols];
    for (int j = 0; j < cols; j++) {
      for (int i = 0; i < rows; i++) {
        out[i * cols + j] = (float) a[j * rows + i];
      }
    }
    return out;
  }

  /** The two products with {@code X}, a block of rows at a time. */
  private static final class Pass {
    private final Kernels k;
    private final Rows x;
    private final int m;
    private final int n;
    private final int block;
    private final float[] rows;
    private final DeviceBuffer xb;
    private final DeviceBuffer small;
    private final DeviceBuffer wide;
    double frobeniusSquared;
    private boolean counted;
    private final boolean resident;
    private boolean loaded;

    Pass(Kernels k, Rows x, int m, int n, int block, float[] rows, DeviceBuffer xb, DeviceBuffer small,
        DeviceBuffer wide, boolean resident) {
      this.k = k;
      this.x = x;
      this.m = m;
      this.n = n;
      this.block = block;
      this.rows = rows;
      this.xb = xb;
      this.small = small;
      this.wide = wide;
      this.resident = resident;
    }

    /** Puts rows {@code [from, from + c)} into {@code xb} (at its start), or finds them there. */
    private int load(int from) {
      int c = Math.min(block, m - from);
      if (resident && loaded) {
        return c;
      }
      // Read through the heap buffer in pieces of at most BLOCK_BYTES.
      int per = rows.length / n;
      for (int at = 0; at < c; at += per) {
        int count = Math.min(per, c - at);
        x.read(from + at, count, rows);
        if (!counted) {
          double s = 0;
          for (int i = 0; i < count * n; i++) {
            s += (double) rows[i] * rows[i];
          }
          frobeniusSquared += s;
        }
        k.upload(rows, 0, xb, (long) at * n, count * n);
      }
      loaded = true;
      return c;
    }

    /** {@code X R} for a row-major {@code n x cols} {@code R}: column-major {@code m x cols} doubles. */
    double[] times(float[] right, int cols) {
      k.upload(right, 0, wide, 0, n * cols);
      double[] out = new double[m * cols];
      float[] part = new float[block * cols];
      for (int from = 0; from < m; from += block) {
        int c = load(from);
        k.sgemm(false, false, c, cols, n, 1f, xb, n, wide, cols, 0f, small, cols);
        k.download(small, 0, part, 0, c * cols);
        for (int i = 0; i < c; i++) {
          for (int j = 0; j < cols; j++) {
            out[j * m + from + i] = part[i * cols + j];
          }
        }
      }
      counted = true;
      return out;
    }

    /**
     * {@code X^T Q} for a column-major {@code m x cols} {@code Q}: column-major {@code n x cols}
     * doubles. Computed as {@code (X^T Q)^T = Q^T X}, so that {@code X} is the untransposed right
     * operand (packed by contiguous copies) and the result comes out row-major {@code cols x n},
     * which is the column-major layout wanted.
     */
    double[] transposeTimes(double[] q, int cols) {
      float[] part = new float[block * cols];
      for (int from = 0; from < m; from += block) {
        int c = load(from);
        // Q's rows [from, from + c) as a row-major c x cols block: op(A) = block^T is cols x c.
        for (int i = 0; i < c; i++) {
          for (int j = 0; j < cols; j++) {
            part[i * cols + j] = (float) q[j * m + from + i];
          }
        }
        k.upload(part, 0, small, 0, c * cols);
        k.sgemm(true, false, cols, n, c, 1f, small, cols, xb, n, from == 0 ? 0f : 1f, wide, n);
      }
      counted = true;
      float[] z = new float[n * cols];
      k.download(wide, 0, z, 0, n * cols);
      double[] out = new double[n * cols];
      for (int i = 0; i < out.length; i++) {
        out[i] = z[i];
      }
      return out;
    }
  }
}
