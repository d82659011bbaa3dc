package io.crosscoder.cpu.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import io.crosscoder.backend.BatchTopKOracle;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link BatchTopK#selectToCsr} on enough rows that it starts from a sample of every 16th row,
 * against a plain ranking of all scores (descending by {@link Float#compare}, then position),
 * including samples that mislead it both ways: sampled rows far above the rest (the bound from the
 * sample is too high, fewer than {@code keep} candidates) and far below it (the bound too low, a
 * part outgrows its room), where it must fall back to the full histogram; and ties, NaN, zeros and
 * negative scores, with 1, 2 and 3 threads.
 */
class BatchTopKSampleTest {
  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (String kind : new String[] {"gaussian", "coarse", "sampledHigh", "sampledLow", "mostlyNegative"}) {
      for (int threads : new int[] {1, 2, 3}) {
        for (long keep : new long[] {1, 700, 40_000}) {
          out.add(Arguments.of(kind, threads, keep, "vector"));
        }
      }
      out.add(Arguments.of(kind, 2, 700L, "scalar"));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} threads={1} keep={2} {3}")
  @MethodSource("cases")
  void sampledSelectionEqualsThePlainRanking(String kind, int threads, long keep, String opsKind) {
    ElementwiseOps ops = opsKind.equals("vector") ? new VectorElementwise() : new ScalarElementwise();
    int rows = BatchTopK.SAMPLED_ROWS_FROM + 37;
    int cols = 700;
    int n = rows * cols;
    SplittableRandom r = new SplittableRandom(kind.hashCode() * 31L + keep);
    float[] x = new float[n];
    for (int row = 0; row < rows; row++) {
      for (int c = 0; c < cols; c++) {
        int i = row * cols + c;
        float g = (float) r.nextGaussian();
        x[i] = switch (kind) {
          case "coarse" -> r.nextInt(4) == 0 ? 0f : (r.nextInt(9) - 2) * 0.5f;
          // Rows 0, 16, 32, ...: the sample (see below).
          case "sampledHigh" -> row % 16 == 0 ? 100f + Math.abs(g) : Math.abs(g);
          case "sampledLow" -> row % 16 == 0 ? -Math.abs(g) : 100f + Math.abs(g);
          case "mostlyNegative" -> r.nextInt(50) == 0 ? Math.abs(g) : -Math.abs(g);
          default -> r.nextInt(500) == 0 ? Float.NaN : g;
        };
      }
    }
    float[] scale = new float[cols];
    for (int c = 0; c < cols; c++) {
      scale[c] = c == 7 ? 0f : 0.5f + (c % 5) * 0.25f;
    }
    // The sample is the rows at 16 j from each part's first row. With 3 threads the parts (the
    // matrix is over 3 x 2^16 scores, so it is split) start at rows 0, 97 and 195: in "sampledHigh"
    // and "sampledLow" the misleading rows are the first part's sample and not the others'.
    BatchTopKOracle want = BatchTopKOracle.of(x, scale, rows, cols, keep);
    try (Arena arena = Arena.ofShared(); WorkerPool pool = new WorkerPool(threads)) {
      MemorySegment xs = arena.allocate(4L * n, 64);
      MemorySegment.copy(x, 0, xs, ValueLayout.JAVA_FLOAT, 0, n);
      MemorySegment ss = arena.allocate(4L * cols, 64);
      MemorySegment.copy(scale, 0, ss, ValueLayout.JAVA_FLOAT, 0, cols);
      MemorySegment rowStart = arena.allocate(4L * (rows + 1), 4);
      MemorySegment colIndex = arena.allocate(4L * keep, 4);
      MemorySegment values = arena.allocate(4L * keep, 4);
      float got = BatchTopK.selectToCsr(pool, ops, xs, ss, rows, cols, keep, rowStart, colIndex, keep, values, keep);
      assertThat(Float.floatToIntBits(got)).as("smallest kept score %s, want %s", got, want.minKept())
          .isEqualTo(Float.floatToIntBits(want.minKept()));
      assertThat(rowStart.toArray(ValueLayout.JAVA_INT)).containsExactly(want.rowStart());
      int nnz = want.nnz();
      assertThat(Arrays.copyOf(colIndex.toArray(ValueLayout.JAVA_INT), nnz)).containsExactly(want.colIndex());
      assertThat(Arrays.copyOf(values.toArray(ValueLayout.JAVA_FLOAT), nnz)).containsExactly(want.values());
    }
  }
}
