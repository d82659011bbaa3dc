package io.crosscoder.cpu.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link ElementwiseOps#nextAtOrAbove}, the candidate scan of BatchTopK, on both implementations,
 * against a plain loop written here: walking a row from column 0 to its end must visit exactly the
 * columns whose f32 product with the scale is at least the bound or NaN, for rows of every length
 * around the vector width (so passing columns fall in the vector part and in the tail), rows
 * starting off a vector boundary, rare and dense passes, infinities, zeros and a zero scale.
 */
class NextAtOrAboveTest {
  @Test
  void bothImplementationsVisitThePassingColumnsOfAPlainLoop() {
    ElementwiseOps[] impls = {new ScalarElementwise(), new VectorElementwise()};
    SplittableRandom r = new SplittableRandom(7);
    try (Arena arena = Arena.ofConfined()) {
      for (int cols = 1; cols <= 70; cols++) {
        for (int offset : new int[] {0, 3}) {
          for (double rate : new double[] {0.01, 0.3}) {
            MemorySegment x = arena.allocate(4L * (offset + cols), 64);
            float[] scale = new float[cols];
            float bound = 1.5f;
            for (int j = 0; j < cols; j++) {
              double u = r.nextDouble();
              float v = u < rate ? 2f + (float) r.nextDouble() : (float) r.nextGaussian() * 0.5f;
              if (r.nextInt(40) == 0) {
                v = switch (r.nextInt(4)) {
                  case 0 -> Float.NaN;
                  case 1 -> Float.POSITIVE_INFINITY;
                  case 2 -> Float.NEGATIVE_INFINITY;
                  default -> 0f;
                };
              }
              x.setAtIndex(ValueLayout.JAVA_FLOAT, offset + j, v);
              scale[j] = r.nextInt(25) == 0 ? 0f : 0.75f + (float) r.nextDouble() * 0.5f;
            }
            StringBuilder want = new StringBuilder();
            for (int j = 0; j < cols; j++) {
              float v = x.getAtIndex(ValueLayout.JAVA_FLOAT, offset + j) * scale[j];
              if (Float.isNaN(v) || v >= bound) {
                want.append(j).append(' ');
              }
            }
            for (ElementwiseOps ops : impls) {
              StringBuilder got = new StringBuilder();
              for (int c = ops.nextAtOrAbove(x, offset, scale, 0, cols, bound); c < cols;
                  c = ops.nextAtOrAbove(x, offset, scale, c + 1, cols, bound)) {
                got.append(c).append(' ');
              }
              assertThat(got.toString()).as("%s cols=%d offset=%d rate=%s", ops.getClass().getSimpleName(), cols,
                  offset, rate).isEqualTo(want.toString());
            }
          }
        }
      }
    }
  }
}
