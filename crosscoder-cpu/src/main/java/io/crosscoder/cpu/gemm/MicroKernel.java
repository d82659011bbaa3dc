package io.crosscoder.cpu.gemm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The register-blocked inner kernel of {@link Sgemm}: one {@code mr x nr} tile of {@code C} from
 * a packed {@code mr x kc} sliver of {@code A} and a packed {@code kc x nr} sliver of {@code B}.
 *
 * <p>Packed layouts: {@code a[aOffset + p * mr + i] = A(i, p)} and {@code b[bOffset + p * nr + j]
 * = B(p, j)} for {@code p < kc}, zero-padded beyond the live rows and columns.
 */
public interface MicroKernel {
  /** Rows of the tile. */
  int mr();

  /** Columns of the tile. */
  int nr();

  /** A short name for descriptions, e.g. {@code "vector 8x32"}. */
  String name();

  /**
   * {@code C(i, j) = alpha * sum_p A(i, p) B(p, j) + beta * C(i, j)} for {@code i < mLive}, {@code j
   * < nLive}, where {@code C(i, j)} is the f32 at element {@code cOffset + i * ldc + j} of {@code c}
   * (native order). When {@code beta == 0} the old {@code C} does not count (a NaN there is
   * overwritten; the vector kernels read it and drop it, without a branch). {@code tile} is scratch
   * of {@code mr * nr} floats for partial tiles.
   */
  void multiply(int kc, float[] a, int aOffset, float[] b, int bOffset, float alpha, float beta,
      MemorySegment c, long cOffset, int ldc, int mLive, int nLive, float[] tile);

  /** The bits of {@code -0.0f}, the one f32 that leaves every value unchanged when added. */
  int NEGATIVE_ZERO_BITS = 0x8000_0000;

  /**
   * {@code -1} (all bits) when the old {@code C} counts, that is {@code beta != 0} (NaN included),
   * else {@code 0}; computed without a branch, so that a JIT-compiled kernel has none to get wrong.
   */
  static int keepBits(float beta) {
    int magnitude = Float.floatToRawIntBits(beta) & 0x7fff_ffff;
    return (magnitude | -magnitude) >> 31;
  }

  /** {@code beta} where {@code keep} is all ones, else {@code 1}; without a branch. */
  static float betaOrOne(float beta, int keep) {
    return Float.intBitsToFloat(Float.floatToRawIntBits(beta) & keep | Float.floatToRawIntBits(1f) & ~keep);
  }

  /** Writes a computed tile {@code acc} (row-major {@code mr x nr}) into the live part of C. */
  static void storeTile(float[] acc, int nr, float alpha, float beta, MemorySegment c, long cOffset,
      int ldc, int mLive, int nLive) {
    for (int i = 0; i < mLive; i++) {
      long row = (cOffset + (long) i * ldc) * 4;
      for (int j = 0; j < nLive; j++) {
        long at = row + 4L * j;
        float v = alpha * acc[i * nr + j];
        if (beta != 0f) {
          v += beta * c.get(ValueLayout.JAVA_FLOAT, at);
        }
        c.set(ValueLayout.JAVA_FLOAT, at, v);
      }
    }
  }
}
