package io.crosscoder.cpu.gemm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each {@link MicroKernel} on its own, against an f64 sum written here: every depth remainder of
 * the vector kernel's unrolled loop ({@code kc} from 1 to 9 and past a block), a tile of C with
 * padding between its rows that must stay untouched, {@code beta} 0 (the old C, NaN here, does
 * not count) and not, and packed slivers at non-zero offsets with padding between them. Kernels
 * take full tiles only; the partial tiles at C's edges are {@link Sgemm}'s (SgemmBlockingTest).
 */
class MicroKernelTest {
  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (String kernel : new String[] {"scalar", "vector", "vector4x2"}) {
      for (int kc : new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 61, 1027}) {
        out.add(Arguments.of(kernel, kc));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} kc={1}")
  @MethodSource("cases")
  void tileMatchesTheF64Sum(String kernelName, int kc) {
    MicroKernel kernel = TestMicroKernels.named(kernelName);
    int mr = kernel.mr();
    int nr = kernel.nr();
    Random r = new Random(kc * 131L + mr);
    int aOffset = 3 * mr * kc + 5;
    int bOffset = 2 * nr * kc + 7;
    float[] a = new float[aOffset + mr * kc + 11];
    float[] b = new float[bOffset + nr * kc + 13];
    for (int i = 0; i < a.length; i++) {
      a[i] = r.nextFloat() * 2 - 1;
    }
    for (int i = 0; i < b.length; i++) {
      b[i] = r.nextFloat() * 2 - 1;
    }
    int ldc = nr + 9;
    long cOffset = 4;
    float[] tile = new float[mr * nr];
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment c = arena.allocate(4L * (cOffset + (long) mr * ldc + 4), 4);
      for (float beta : new float[] {0f, 0.5f}) {
        float alpha = -1.25f;
        float[] before = new float[(int) (c.byteSize() / 4)];
        for (int i = 0; i < before.length; i++) {
          before[i] = beta == 0f ? Float.NaN : r.nextFloat();
        }
        MemorySegment.copy(before, 0, c, ValueLayout.JAVA_FLOAT, 0, before.length);
        kernel.multiply(kc, a, aOffset, native64(arena, b), bOffset, alpha, beta, c, cOffset, ldc, tile);
        for (int at = 0; at < before.length; at++) {
          long rel = at - cOffset;
          int i = (int) Math.floorDiv(rel, ldc);
          int j = (int) Math.floorMod(rel, ldc);
          float got = c.getAtIndex(ValueLayout.JAVA_FLOAT, at);
          if (rel < 0 || i >= mr || j >= nr) {
            // Outside the tile (before it, between its rows, after it) nothing is written.
            assertThat(Float.floatToRawIntBits(got)).as("untouched element %d", at)
                .isEqualTo(Float.floatToRawIntBits(before[at]));
            continue;
          }
          double sum = 0;
          double abs = 0;
          for (int p = 0; p < kc; p++) {
            double term = (double) a[aOffset + p * mr + i] * b[bOffset + p * nr + j];
            sum += term;
            abs += Math.abs(term);
          }
          double want = alpha * sum + (beta == 0f ? 0 : beta * (double) before[at]);
          double tol = 1e-6 * (Math.abs(alpha) * abs + 1) * Math.sqrt(kc + 1);
          assertThat((double) got).as("C(%d, %d) beta %s", i, j, beta).isCloseTo(want, within(tol));
        }
      }
    }
  }

  /**
   * The write-back's branch-free beta (the vector kernels drop the old C by bits, not by a
   * branch): bit for bit what {@code alpha * acc + beta * C} gives, signed zeros included, for
   * beta {@code +0}, {@code -0}, 1 and -2, on a full tile of each kernel against the scalar rule
   * of the scalar kernel's write-back, written out here.
   */
  @ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"scalar", "vector", "vector4x2"})
  void fullTileWriteBackIsExactForEveryBeta(String kernelName) {
    MicroKernel kernel = TestMicroKernels.named(kernelName);
    int mr = kernel.mr();
    int nr = kernel.nr();
    int kc = 3;
    float[] a = new float[mr * kc];
    float[] b = new float[nr * kc];
    // Row 0 of A is zero, so with alpha -1 row 0 of the product is -0.0; other rows are small
    // integers, exact in f32.
    for (int p = 0; p < kc; p++) {
      for (int i = 1; i < mr; i++) {
        a[p * mr + i] = (i + p) % 5 - 2;
      }
      for (int j = 0; j < nr; j++) {
        b[p * nr + j] = (j + 2 * p) % 7 - 3;
      }
    }
    float alpha = -1f;
    float[] tile = new float[mr * nr];
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment c = arena.allocate(4L * mr * nr, 4);
      for (float beta : new float[] {0f, -0f, 1f, -2f}) {
        float[] before = new float[mr * nr];
        for (int at = 0; at < before.length; at++) {
          // beta 0 must drop a NaN; otherwise C holds +0, -0 and small integers.
          before[at] = beta == 0f ? (at % 3 == 0 ? Float.NaN : -0f) : (at % 4 == 0 ? -0f : at % 5 - 2);
          c.setAtIndex(ValueLayout.JAVA_FLOAT, at, before[at]);
        }
        kernel.multiply(kc, a, 0, native64(arena, b), 0, alpha, beta, c, 0, nr, tile);
        for (int i = 0; i < mr; i++) {
          for (int j = 0; j < nr; j++) {
            float acc = 0;
            for (int p = 0; p < kc; p++) {
              acc += a[p * mr + i] * b[p * nr + j];
            }
            float want = alpha * acc;
            if (beta != 0f) {
              want = Math.fma(beta, before[i * nr + j], want);
            }
            float got = c.getAtIndex(ValueLayout.JAVA_FLOAT, i * nr + j);
            assertThat(Float.floatToRawIntBits(got)).as("C(%d, %d) beta %s: %s, want %s", i, j, beta, got, want)
                .isEqualTo(Float.floatToRawIntBits(want));
          }
        }
      }
    }
  }

  @org.junit.jupiter.api.Test
  void keepBitsAndBetaOrOneFollowBetaNotZero() {
    for (float beta : new float[] {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, 1f, -2.5f, Float.MAX_VALUE,
        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN}) {
      int keep = MicroKernel.keepBits(beta);
      assertThat(keep).as("beta %s", beta).isEqualTo(beta != 0f || Float.isNaN(beta) ? -1 : 0);
      float orOne = MicroKernel.betaOrOne(beta, keep);
      assertThat(Float.floatToRawIntBits(orOne)).as("beta %s", beta)
          .isEqualTo(Float.floatToRawIntBits(keep == 0 ? 1f : beta));
    }
  }

  /** Packed B as the kernels take it: native, aligned to 64 bytes as Sgemm allocates it. */
  private static MemorySegment native64(Arena arena, float[] b) {
    MemorySegment out = arena.allocate(4L * b.length, 64);
    MemorySegment.copy(b, 0, out, ValueLayout.JAVA_FLOAT, 0, b.length);
    return out;
  }
}
