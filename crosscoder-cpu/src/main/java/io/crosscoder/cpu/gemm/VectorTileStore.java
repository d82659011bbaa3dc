package io.crosscoder.cpu.gemm;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The write-back of a full tile shared by the vector micro-kernels ({@link VectorMicroKernel4x2},
 * {@link VectorMicroKernel8x2}): one accumulator vector of the preferred species into a row of C,
 * in native order.
 */
final class VectorTileStore {
  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final ByteOrder ORDER = ByteOrder.nativeOrder();

  private VectorTileStore() {}

  /** {@code C = alpha * acc + beta * C} for one vector of a row; C is not read when beta is 0. */
  static void store(FloatVector acc, float alpha, float beta, MemorySegment c, long byteOffset) {
    FloatVector v = acc.mul(alpha);
    if (beta != 0f) {
      v = FloatVector.fromMemorySegment(S, c, byteOffset, ORDER).fma(FloatVector.broadcast(S, beta), v);
    }
    v.intoMemorySegment(c, byteOffset, ORDER);
  }
}
