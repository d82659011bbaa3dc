package io.crosscoder.cpu.gemm;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The write-back of a full tile shared by the vector micro-kernels ({@link VectorMicroKernel4x2},
 * {@link VectorMicroKernel8x2}): the kernel leaves its accumulators in its scratch tile and this
 * writes the tile into C with whole vectors, in native order.
 *
 * <p>Why through the tile: the kernels' unrolled depth loops are so large that C2 stops inlining
 * at the write-back ({@code NodeCountInliningCutoff}); a helper taking a {@code FloatVector}
 * argument was then called 16 times per tile ({@code -XX:+PrintInlining}: "failed to inline:
 * NodeCountInliningCutoff"), each call boxing its vector on the heap, a fixed cost per tile that a
 * shallow {@code kc} pays most often. Measured on Ice Lake (shared, loaded machine) with the 8 x 32
 * kernel, one tile repeated from L1 at {@code kc = 256}, best of 30 rounds of 0.1 s: 59 and 75
 * GFLOP/s with the boxed calls, 97 and 79 through the tile. The scratch tile is 2 KiB and stays in
 * L1, so its extra stores and loads cost tens of cycles per tile against the thousands the depth
 * loop takes.
 */
final class VectorTileStore {
  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final int L = S.length();
  private static final ByteOrder ORDER = ByteOrder.nativeOrder();

  private VectorTileStore() {}

  /**
   * {@code C(i, j) = alpha * tile[i * nr + j] + beta * C(i, j)} for {@code i < mr}, {@code j < nr}
   * ({@code nr} a multiple of the preferred species' length), where {@code C(i, j)} is the f32 at
   * element {@code cOffset + i * ldc + j} of {@code c}; C is not read when beta is 0.
   */
  static void storeFull(float[] tile, int mr, int nr, float alpha, float beta, MemorySegment c,
      long cOffset, int ldc) {
    long step = (long) ldc * 4;
    long row = cOffset * 4;
    if (beta == 0f) {
      for (int i = 0; i < mr; i++, row += step) {
        for (int j = 0; j < nr; j += L) {
          FloatVector.fromArray(S, tile, i * nr + j).mul(alpha).intoMemorySegment(c, row + 4L * j, ORDER);
        }
      }
    } else {
      FloatVector vb = FloatVector.broadcast(S, beta);
      for (int i = 0; i < mr; i++, row += step) {
        for (int j = 0; j < nr; j += L) {
          long at = row + 4L * j;
          FloatVector v = FloatVector.fromArray(S, tile, i * nr + j).mul(alpha);
          FloatVector.fromMemorySegment(S, c, at, ORDER).fma(vb, v).intoMemorySegment(c, at, ORDER);
        }
      }
    }
  }
}
