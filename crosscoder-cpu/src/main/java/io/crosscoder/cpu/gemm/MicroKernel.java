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
   * (native order). When {@code beta == 0} the old {@code C} is not read. {@code tile} is scratch
   * of {@code mr * nr} floats for partial tiles.
   */
  void multiply(int kc, float[] a, int aOffset, float[] b, int bOffset, float alpha, float beta,
      MemorySegment c, long cOffset, int ldc, int mLive, int nLive, float[] tile);

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
