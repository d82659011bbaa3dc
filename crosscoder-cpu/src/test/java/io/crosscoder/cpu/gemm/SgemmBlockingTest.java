package io.crosscoder.cpu.gemm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.cpu.kernels.WorkerPool;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link Sgemm} with tiny cache blocks, so that small products cross every loop of the nest (many
 * {@code jc}, {@code pc} and {@code ic} blocks, partial tiles at every edge, beta applied on the
 * first depth block only; depth blocks of 5, 16 and 37, the last crossing the transpose blocks of
 * 16 in which a transposed B is packed), against an f64 triple loop, with each budget of packed B: none (the
 * textbook order, one depth panel at a time), three panels (groups of three depth blocks and a
 * partial last group) and no limit (every depth block in one group). The conformance suite
 * covers the default blocking through the public API.
 */
class SgemmBlockingTest {
  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (String kernel : new String[] {"scalar", "vector", "vector4x2"}) {
      for (int threads : new int[] {1, 2, 3}) {
        for (Blocking blocking : new Blocking[] {
            new Blocking(7, 5, 40), new Blocking(12, 16, 64), new Blocking(9, 37, 96)}) {
          long threePanels = 3L * blocking.kc() * 64 * 4;
          for (long packedB : new long[] {0, threePanels, Long.MAX_VALUE}) {
            out.add(Arguments.of(kernel, threads, blocking, packedB));
          }
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} threads={1} {2} packedB={3}")
  @MethodSource("cases")
  void smallBlocksGiveTheProduct(String kernelName, int threads, Blocking blocking, long packedB) {
    MicroKernel kernel = TestMicroKernels.named(kernelName);
    Sgemm gemm = new Sgemm(kernel, blocking, packedB);
    assertThat(gemm.blocking().mc() % kernel.mr()).isZero();
    assertThat(gemm.blocking().nc() % kernel.nr()).isZero();
    Random r = new Random(threads * 31 + blocking.kc());
    try (WorkerPool pool = new WorkerPool(threads); Arena arena = Arena.ofConfined()) {
      int[][] shapes = {{1, 1, 1}, {13, 70, 11}, {40, 9, 33}, {25, 150, 37}};
      for (int[] s : shapes) {
        for (int t = 0; t < 4; t++) {
          check(gemm, pool, arena, r, (t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2], t == 3 ? 0.5f : 0f);
        }
      }
    }
  }

  /**
   * Every sliver of packed B that a kernel is given starts on a 64-byte boundary of native memory
   * (a 512-bit load from it spans one cache line), for every kernel whose sliver rows are a whole
   * number of 64-byte lines ({@code nr = 16 or 32} floats), every depth block and every group of
   * panels; and the product is still right, checked by the f64 loop.
   */
  @Test
  void packedBSliversStartOnCacheLines() {
    MicroKernel inner = MicroKernels.scalar();
    List<Long> misaligned = new ArrayList<>();
    int[] calls = {0};
    MicroKernel recording = new MicroKernel() {
      @Override
      public int mr() {
        return 4;
      }

      @Override
      public int nr() {
        return 16;
      }

      @Override
      public String name() {
        return "recording 4x16";
      }

      @Override
      public void multiply(int kc, float[] a, int aOffset, MemorySegment b, int bOffset, float alpha, float beta,
          MemorySegment c, long cOffset, int ldc, float[] tile) {
        synchronized (calls) {
          calls[0]++;
          long at = b.address() + 4L * bOffset;
          if (!b.isNative() || at % 64 != 0) {
            misaligned.add(at);
          }
        }
        // Four 4 x 4 tiles of the scalar kernel make one 4 x 16 tile: column block q of B's
        // sliver is copied out (rows of 16 floats into rows of 4).
        float[] sliver = new float[4 * kc];
        float[] sub = new float[16];
        try (Arena arena = Arena.ofConfined()) {
          MemorySegment part = arena.allocate(4L * sliver.length, 64);
          for (int q = 0; q < 4; q++) {
            for (int p = 0; p < kc; p++) {
              MemorySegment.copy(b, ValueLayout.JAVA_FLOAT, 4L * (bOffset + p * 16 + q * 4), sliver, p * 4, 4);
            }
            MemorySegment.copy(sliver, 0, part, ValueLayout.JAVA_FLOAT, 0, sliver.length);
            inner.multiply(kc, a, aOffset, part, 0, alpha, beta, c, cOffset + q * 4, ldc, sub);
          }
        }
      }
    };
    Random r = new Random(5);
    for (long packedB : new long[] {0, Long.MAX_VALUE}) {
      Sgemm gemm = new Sgemm(recording, new Blocking(8, 5, 48), packedB);
      try (WorkerPool pool = new WorkerPool(2); Arena arena = Arena.ofConfined()) {
        for (int t = 0; t < 4; t++) {
          check(gemm, pool, arena, r, (t & 1) != 0, (t & 2) != 0, 21, 70, 13, t == 3 ? 0.5f : 0f);
        }
      }
    }
    assertThat(calls[0]).isGreaterThan(100);
    assertThat(misaligned).as("addresses of slivers off a 64-byte boundary").isEmpty();
  }

  @Test
  void packedBBudgetComesFromItsPropertyAndBadValuesAreRefused() {
    String key = Blocking.PROPERTY_PREFIX + "packedBMiB";
    String saved = System.getProperty(key);
    try {
      System.clearProperty(key);
      assertThat(Blocking.packedBBytes()).isEqualTo(Blocking.DEFAULT_PACKED_B_BYTES);
      System.setProperty(key, " 48 ");
      assertThat(Blocking.packedBBytes()).isEqualTo(48L << 20);
      for (String bad : new String[] {"-1", "lots", "2000000"}) {
        System.setProperty(key, bad);
        assertThatThrownBy(Blocking::packedBBytes).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining(key).hasMessageContaining(bad);
      }
    } finally {
      if (saved == null) {
        System.clearProperty(key);
      } else {
        System.setProperty(key, saved);
      }
    }
    assertThatThrownBy(() -> new Sgemm(MicroKernels.scalar(), new Blocking(8, 8, 8), -1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("packedBBytes");
  }

  private static void check(Sgemm gemm, WorkerPool pool, Arena arena, Random r, boolean ta, boolean tb,
      int m, int n, int k, float beta) {
    float[] a = new float[m * k];
    float[] b = new float[k * n];
    // C has 3 columns of padding per row (ldc = n + 3) and a float after it: Sgemm must leave
    // them untouched, partial tiles at C's edges included.
    int ldc = n + 3;
    float[] c = new float[m * ldc + 1];
    for (int i = 0; i < a.length; i++) {
      a[i] = r.nextFloat() * 2 - 1;
    }
    for (int i = 0; i < b.length; i++) {
      b[i] = r.nextFloat() * 2 - 1;
    }
    for (int i = 0; i < c.length; i++) {
      c[i] = beta == 0f || i % ldc >= n ? Float.NaN : r.nextFloat();
    }
    MemorySegment as = arena.allocate(4L * a.length + 4, 64);
    MemorySegment bs = arena.allocate(4L * b.length + 4, 64);
    MemorySegment cs = arena.allocate(4L * c.length + 4, 64);
    MemorySegment.copy(a, 0, as, ValueLayout.JAVA_FLOAT, 0, a.length);
    MemorySegment.copy(b, 0, bs, ValueLayout.JAVA_FLOAT, 0, b.length);
    MemorySegment.copy(c, 0, cs, ValueLayout.JAVA_FLOAT, 0, c.length);
    gemm.multiply(pool, ta, tb, m, n, k, 1.25f,
        MatrixOperand.f32(as, 0, ta ? m : k), MatrixOperand.f32(bs, 0, tb ? k : n), beta, cs, 0, ldc);
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double sum = 0;
        double mag = 0;
        for (int p = 0; p < k; p++) {
          double x = (ta ? a[p * m + i] : a[i * k + p]) * (double) (tb ? b[j * k + p] : b[p * n + j]);
          sum += x;
          mag += Math.abs(x);
        }
        double old = beta == 0f ? 0 : c[i * ldc + j];
        double want = 1.25 * sum + beta * old;
        float got = cs.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * ldc + j);
        assertThat((double) got).as("C(%d, %d) of %d x %d x %d, transA=%s transB=%s", i, j, m, n, k, ta, tb)
            .isCloseTo(want, within((k + 3) * 0x1p-23 * (1.25 * mag + Math.abs(beta * old)) + 1e-30));
      }
    }
    for (int at = 0; at < c.length; at++) {
      if (at >= m * ldc || at % ldc >= n) {
        assertThat(Float.floatToRawIntBits(cs.getAtIndex(ValueLayout.JAVA_FLOAT, at)))
            .as("padding element %d of %d x %d x %d", at, m, n, k).isEqualTo(Float.floatToRawIntBits(c[at]));
      }
    }
  }
}
