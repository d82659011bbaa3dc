package io.crosscoder.cpu.gemm;

import java.lang.foreign.MemorySegment;

/**
 * The register-blocked inner kernel of {@link Sgemm}: one {@code mr x nr} tile of {@code C} from
 * a packed {@code mr x kc} sliver of {@code A} and a packed {@code kc x nr} sliver of {@code B}.
 *
 * <p>Packed layouts: {@code a[aOffset + p * mr + i] = A(i, p)} and f32 element {@code bOffset + p
 * * nr + j} of {@code b} {@code = B(p, j)} for {@code p < kc}, zero-padded beyond the live rows and
 * columns.
 *
 * <p>Packed B is a native segment, which {@link Sgemm} allocates aligned to 64 bytes, and not a
 * {@code float[]}: a Java array starts wherever the collector put it, and when its data is not
 * on a 64-byte boundary every 512-bit load of B spans two cache lines. The vector kernel
 * measured 105-112 GFLOP/s at five of eight starting offsets of the same array and 132 at the
 * aligned one; from an aligned native segment, 137-153 (one Ice Lake core, kernel calls alone,
 * {@code kc} 256 to 1024, the A sliver from L1 or L2). The broadcasts from packed A are single
 * floats, which never span two lines, so A stays an array.
 */
public interface MicroKernel {
  /** Rows of the tile. */
  int mr();

  /** Columns of the tile. */
  int nr();

  /** A short name for descriptions, e.g. {@code "vector 8x48"}. */
  String name();

  /**
   * {@code C(i, j) = alpha * sum_p A(i, p) B(p, j) + beta * C(i, j)} for the whole tile, {@code i <
   * mr()}, {@code j < nr()}, where {@code C(i, j)} is the f32 at element {@code cOffset + i * ldc +
   * j} of {@code c} (native order). When {@code beta == 0} the old {@code C} does not count (a NaN
   * there is overwritten; the vector kernels drop it without a branch, and the 512-bit one does not
   * even load it: see {@link #keepBits}). {@code tile} is scratch of {@code mr * nr} floats. Full
   * tiles only: {@link Sgemm} runs the partial tiles at C's edges through a scratch tile, so that
   * no kernel holds a branch for them (a JIT-compiled kernel that had only seen full tiles trapped
   * back to slow code at the first partial one).
   */
  void multiply(int kc, float[] a, int aOffset, MemorySegment b, int bOffset, float alpha, float beta,
      MemorySegment c, long cOffset, int ldc, float[] tile);

  /** The bits of {@code -0.0f}, the one f32 that leaves every value unchanged when added. */
  int NEGATIVE_ZERO_BITS = 0x8000_0000;

  /**
   * {@code -1} (all bits) when the old {@code C} counts, that is {@code beta != 0} (NaN included),
   * else {@code 0}; computed without a branch, so that a JIT-compiled kernel has none to get wrong.
   *
   * <p>The vector kernels' write-back uses it in one loop for every beta: the old {@code C} is
   * ANDed with {@code keep} and ORed with {@code NEGATIVE_ZERO_BITS & ~keep} (so it becomes
   * {@code -0.0} when it does not count), beta becomes {@link #betaOrOne}, and {@code fma(-0.0, 1,
   * x)} is {@code x} exactly, NaN and signed zeros included. The 512-bit kernel also loads the old
   * {@code C} under a lane mask made from {@code keep}, empty for beta 0 ({@code
   * VectorMicroKernel8x3} says why). No branch on beta: the first products may take such a branch
   * one way only (beta 0 while K fits in one depth block), and C2 compiles the way not seen as an
   * uncommon trap, which throws the whole kernel back to C1 code. The loop is written in each kernel rather
   * than in a helper, so that C2 compiles it with the kernel; a helper would first run in C1 code,
   * where each Vector API operation allocates.
   */
  static int keepBits(float beta) {
    int magnitude = Float.floatToRawIntBits(beta) & 0x7fff_ffff;
    return (magnitude | -magnitude) >> 31;
  }

  /** {@code beta} where {@code keep} is all ones, else {@code 1}; without a branch. */
  static float betaOrOne(float beta, int keep) {
    return Float.intBitsToFloat(Float.floatToRawIntBits(beta) & keep | Float.floatToRawIntBits(1f) & ~keep);
  }
}
