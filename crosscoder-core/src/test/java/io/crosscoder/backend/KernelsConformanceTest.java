package io.crosscoder.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The contract of {@link Kernels}, run against every implementation: subclasses say how to make
 * the kernels (and skip, with a reason, where they cannot run). Every kernel is checked against an
 * independent oracle: Commons Math's matrix product for GEMM, f64 loops written here for the rest,
 * and hand-computed values for bf16 rounding, top-k ties and Adam. Sizes are odd (1, 7, 33, 129
 * and a few past the usual cache blocks) so vector tails and tile edges are exercised.
 */
public abstract class KernelsConformanceTest {
  /** Unit roundoff of f32 times two: the per-operation error bound used in tolerances. */
  private static final double EPS = 0x1p-23;

  private Kernels kernels;
  private final List<DeviceBuffer> buffers = new ArrayList<>();

  /** Makes the kernels under test; may skip the test with an {@code Assumptions} call. */
  protected abstract Kernels newKernels();

  @BeforeEach
  void openKernels() {
    kernels = newKernels();
  }

  @AfterEach
  void closeKernels() {
    buffers.forEach(DeviceBuffer::close);
    buffers.clear();
    if (kernels != null) {
      kernels.close();
    }
  }

  /** The kernels of the current test. */
  protected Kernels kernels() {
    return kernels;
  }

  private DeviceBuffer up(float[] values) {
    return track(kernels.upload(values));
  }

  private DeviceBuffer up(float[] values, DType type) {
    return track(kernels.upload(values, type));
  }

  private DeviceBuffer up(int[] values) {
    return track(kernels.upload(values));
  }

  private DeviceBuffer alloc(DType type, long size) {
    return track(kernels.allocate(type, size));
  }

  private DeviceBuffer track(DeviceBuffer b) {
    buffers.add(b);
    return b;
  }

  private float[] down(DeviceBuffer b) {
    return kernels.downloadFloats(b);
  }

  private static float[] random(Random r, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = r.nextFloat() * 2 - 1;
    }
    return v;
  }

  // ---------------------------------------------------------------- buffers

  @Test
  void allocateGivesZerosOfTheAskedTypeAndSize() {
    DeviceBuffer f = alloc(DType.F32, 33);
    DeviceBuffer h = alloc(DType.BF16, 7);
    DeviceBuffer i = alloc(DType.I32, 129);
    assertThat(f.dtype()).isEqualTo(DType.F32);
    assertThat(f.size()).isEqualTo(33);
    assertThat(f.byteSize()).isEqualTo(132);
    assertThat(h.byteSize()).isEqualTo(14);
    assertThat(down(f)).containsOnly(0f);
    assertThat(down(h)).containsOnly(0f);
    assertThat(kernels.downloadInts(i)).containsOnly(0);
    assertThatThrownBy(() -> kernels.allocate(DType.F16, 4)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> kernels.allocate(DType.F32, -1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void uploadDownloadRoundTripsF32AndI32ExactlyAtOffsets() {
    float[] v = {1.5f, -0f, Float.NaN, Float.NEGATIVE_INFINITY, 3.1415927f, Float.MIN_VALUE, -7e37f};
    DeviceBuffer b = alloc(DType.F32, 10);
    kernels.upload(v, 2, b, 5, 4);
    float[] out = down(b);
    assertThat(Arrays.copyOfRange(out, 5, 9)).containsExactly(Float.NaN, Float.NEGATIVE_INFINITY, 3.1415927f, Float.MIN_VALUE);
    assertThat(out[4]).isZero();
    assertThat(out[9]).isZero();
    float[] part = new float[3];
    kernels.download(b, 6, part, 1, 2);
    assertThat(part).containsExactly(0f, Float.NEGATIVE_INFINITY, 3.1415927f);
    int[] ints = {7, -1, Integer.MAX_VALUE, Integer.MIN_VALUE};
    assertThat(kernels.downloadInts(up(ints))).containsExactly(ints);
    assertThatThrownBy(() -> kernels.upload(v, 0, b, 8, 3)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void bf16UploadRoundsToNearestEven() {
    float one = 1f;
    float[] v = {
      one, // exact
      one + 0x1p-8f, // half-way between 1 and 1 + 2^-7: to even, 1
      one + 3 * 0x1p-8f, // half-way between 1 + 2^-7 and 1 + 2^-6: to even, 1 + 2^-6
      one + 0x1p-8f + 0x1p-20f, // just above half-way: 1 + 2^-7
      -3.0f, Float.POSITIVE_INFINITY, -0f, Float.NaN, 0x1p-130f // subnormal, exact in bf16
    };
    float[] expected = {1f, 1f, 1f + 0x1p-6f, 1f + 0x1p-7f, -3f, Float.POSITIVE_INFINITY, -0f, Float.NaN, 0x1p-130f};
    DeviceBuffer b = up(v, DType.BF16);
    assertThat(down(b)).containsExactly(expected);
    // The raw bits as a file would hold them.
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment raw = arena.allocate(2L * v.length);
      kernels.download(b, 0, raw, DType.BF16, v.length);
      assertThat(raw.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0)).isEqualTo((short) 0x3f80);
      assertThat(raw.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4)).isEqualTo((short) 0x3f82);
      assertThat(raw.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8)).isEqualTo((short) 0xc040);
    }
  }

  @Test
  void uploadFromLittleEndianSegmentsConvertsBetweenF32AndBf16() {
    try (Arena arena = Arena.ofConfined()) {
      ValueLayout.OfShort h = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
      ValueLayout.OfFloat f = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
      // Odd offset: a tensor inside a mapped file need not be aligned.
      MemorySegment file = arena.allocate(1 + 2 * 3).asSlice(1);
      file.set(h, 0, (short) 0x3f80); // 1.0
      file.set(h, 2, (short) 0xc0a0); // -5.0
      file.set(h, 4, (short) 0x3e00); // 0.125
      DeviceBuffer f32 = alloc(DType.F32, 4);
      kernels.upload(file, DType.BF16, f32, 1, 3);
      assertThat(down(f32)).containsExactly(0f, 1f, -5f, 0.125f);
      MemorySegment floats = arena.allocate(4 * 2 + 1).asSlice(1);
      floats.set(f, 0, 1f + 3 * 0x1p-8f);
      floats.set(f, 4, -2.5f);
      DeviceBuffer bf = alloc(DType.BF16, 2);
      kernels.upload(floats, DType.F32, bf, 0, 2);
      assertThat(down(bf)).containsExactly(1f + 0x1p-6f, -2.5f);
      MemorySegment back = arena.allocate(4 * 4 + 3).asSlice(3);
      kernels.download(f32, 0, back, DType.F32, 4);
      assertThat(back.get(f, 8)).isEqualTo(-5f);
      assertThatThrownBy(() -> kernels.upload(file, DType.BF16, f32, 0, 4)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void copyConvertsAndSlicesShareMemory() {
    float[] v = {1f + 3 * 0x1p-8f, 2f, -0.1f, 5f};
    DeviceBuffer f = up(v);
    DeviceBuffer h = alloc(DType.BF16, 4);
    kernels.copy(f, h);
    assertThat(down(h)).containsExactly(1f + 0x1p-6f, 2f, -0.10009765625f, 5f);
    DeviceBuffer back = alloc(DType.F32, 4);
    kernels.copy(h, back);
    assertThat(down(back)).containsExactly(1f + 0x1p-6f, 2f, -0.10009765625f, 5f);
    DeviceBuffer mid = f.slice(1, 2);
    assertThat(mid.size()).isEqualTo(2);
    kernels.fill(mid, 9f);
    assertThat(down(f)).containsExactly(v[0], 9f, 9f, v[3]);
    mid.close(); // a slice owns nothing
    assertThat(f.isOpen()).isTrue();
    assertThatThrownBy(() -> f.slice(3, 2)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> kernels.copy(f, alloc(DType.F32, 3))).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void closedAndForeignBuffersAreRefused() {
    DeviceBuffer b = kernels.allocate(DType.F32, 8);
    DeviceBuffer s = b.slice(0, 4);
    b.close();
    b.close(); // idempotent
    assertThat(b.isOpen()).isFalse();
    assertThat(s.isOpen()).isFalse();
    assertThatThrownBy(() -> kernels.scale(2f, b)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("closed");
    assertThatThrownBy(() -> kernels.scale(2f, s)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("closed");
    try (Kernels other = newKernels()) {
      DeviceBuffer foreign = other.allocate(DType.F32, 4);
      try {
        assertThatThrownBy(() -> kernels.scale(2f, foreign)).isInstanceOf(IllegalArgumentException.class);
      } finally {
        foreign.close();
      }
    }
    assertThatThrownBy(() -> kernels.scale(2f, up(new int[] {1}))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I32");
  }

  // ---------------------------------------------------------------- sgemm

  static Stream<Arguments> gemmShapes() {
    int[][] shapes = {
      {1, 1, 1}, {7, 33, 129}, {129, 7, 33}, {33, 129, 7}, {129, 129, 129}, {1, 129, 7}, {7, 1, 33},
      {33, 7, 1}, {300, 270, 600}, {50, 70, 1100}, {13, 4200, 9},
    };
    List<Arguments> out = new ArrayList<>();
    for (int[] s : shapes) {
      for (boolean ta : new boolean[] {false, true}) {
        for (boolean tb : new boolean[] {false, true}) {
          out.add(Arguments.of(ta, tb, s[0], s[1], s[2]));
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "transA={0} transB={1} m={2} n={3} k={4}")
  @MethodSource("gemmShapes")
  void sgemmMatchesCommonsMathForEveryTransposeAndAlphaBeta(boolean ta, boolean tb, int m, int n, int k) {
    long seed = 31L * m + 17L * n + k + (ta ? 1000 : 0) + (tb ? 2000 : 0);
    checkGemm(ta, tb, m, n, k, 1f, 0f, 0, seed, DType.F32, DType.F32);
    checkGemm(ta, tb, m, n, k, 1.5f, -0.5f, 3, seed + 1, DType.F32, DType.F32);
    checkGemm(ta, tb, m, n, k, -2f, 1f, 1, seed + 2, DType.F32, DType.F32);
  }

  @ParameterizedTest(name = "transA={0}")
  @ValueSource(booleans = {false, true})
  void sgemmReadsBf16OperandsExactly(boolean ta) {
    checkGemm(ta, false, 37, 45, 70, 1f, 0f, 2, 5, DType.BF16, DType.F32);
    checkGemm(ta, true, 9, 64, 300, 0.5f, 2f, 0, 6, DType.BF16, DType.BF16);
    checkGemm(ta, false, 129, 33, 7, 1f, 1f, 0, 7, DType.F32, DType.BF16);
  }

  /**
   * One product against Commons Math. The stored matrices have {@code pad} extra columns of NaN
   * (they must not be read), C starts as NaN when beta is 0 (it must not be read) and its padding
   * must stay NaN (it must not be written). With bf16 operands the inputs are multiples of 1/64 in
   * [-2, 2], exact in bf16, so the oracle needs no rounding of its own.
   */
  private void checkGemm(boolean ta, boolean tb, int m, int n, int k, float alpha, float beta, int pad,
      long seed, DType aType, DType bType) {
    Random r = new Random(seed);
    int aRows = ta ? k : m;
    int aCols = ta ? m : k;
    int bRows = tb ? n : k;
    int bCols = tb ? k : n;
    int lda = aCols + pad;
    int ldb = bCols + pad;
    int ldc = n + pad;
    boolean exact = aType == DType.BF16 || bType == DType.BF16;
    float[] a = storedMatrix(r, aRows, aCols, lda, exact);
    float[] b = storedMatrix(r, bRows, bCols, ldb, exact);
    float[] c = new float[m * ldc];
    for (int i = 0; i < c.length; i++) {
      c[i] = beta == 0f || i % ldc >= n ? Float.NaN : r.nextFloat() * 2 - 1;
    }
    double[][] opA = new double[m][k];
    double[][] opB = new double[k][n];
    double[][] absA = new double[m][k];
    double[][] absB = new double[k][n];
    for (int i = 0; i < m; i++) {
      for (int p = 0; p < k; p++) {
        opA[i][p] = ta ? a[p * lda + i] : a[i * lda + p];
        absA[i][p] = Math.abs(opA[i][p]);
      }
    }
    for (int p = 0; p < k; p++) {
      for (int j = 0; j < n; j++) {
        opB[p][j] = tb ? b[j * ldb + p] : b[p * ldb + j];
        absB[p][j] = Math.abs(opB[p][j]);
      }
    }
    RealMatrix product = new Array2DRowRealMatrix(opA, false).multiply(new Array2DRowRealMatrix(opB, false));
    RealMatrix magnitude = new Array2DRowRealMatrix(absA, false).multiply(new Array2DRowRealMatrix(absB, false));

    DeviceBuffer ab = up(a, aType);
    DeviceBuffer bb = up(b, bType);
    DeviceBuffer cb = up(c);
    kernels.sgemm(ta, tb, m, n, k, alpha, ab, lda, bb, ldb, beta, cb, ldc);
    float[] got = down(cb);
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < ldc; j++) {
        float g = got[i * ldc + j];
        if (j >= n) {
          assertThat(g).as("padding C(%d, %d) must not be written", i, j).isNaN();
          continue;
        }
        double old = beta == 0f ? 0 : c[i * ldc + j];
        double want = alpha * product.getEntry(i, j) + beta * old;
        double bound = (k + 3) * EPS * (Math.abs(alpha) * magnitude.getEntry(i, j) + Math.abs(beta * old)) + 1e-30;
        assertThat((double) g).as("C(%d, %d) of %s%s m=%d n=%d k=%d alpha=%s beta=%s", i, j,
            ta ? "A^T" : "A", tb ? "B^T" : "B", m, n, k, alpha, beta).isCloseTo(want, within(bound));
      }
    }
  }

  private static float[] storedMatrix(Random r, int rows, int cols, int ld, boolean exact) {
    float[] v = new float[Math.max(0, rows * ld)];
    for (int i = 0; i < v.length; i++) {
      if (i % ld >= cols) {
        v[i] = Float.NaN;
      } else {
        v[i] = exact ? (r.nextInt(257) - 128) / 64f : r.nextFloat() * 2 - 1;
      }
    }
    return v;
  }

  @Test
  void sgemmWithAlphaZeroOrKZeroOnlyScalesC() {
    float[] nan = new float[6];
    Arrays.fill(nan, Float.NaN);
    DeviceBuffer a = up(nan);
    DeviceBuffer b = up(nan);
    DeviceBuffer c = up(new float[] {1, 2, 3, 4, 5, 6});
    kernels.sgemm(false, false, 2, 3, 2, 0f, a, 2, b, 3, 2f, c, 3);
    assertThat(down(c)).containsExactly(2, 4, 6, 8, 10, 12);
    kernels.sgemm(false, true, 2, 3, 0, 1f, a, 1, b, 1, -1f, c, 3);
    assertThat(down(c)).containsExactly(-2, -4, -6, -8, -10, -12);
    DeviceBuffer garbage = up(nan);
    kernels.sgemm(true, false, 2, 3, 0, 1f, a, 2, b, 3, 0f, garbage, 3);
    assertThat(down(garbage)).containsOnly(0f);
  }

  @Test
  void sgemmOnSlicesUsesTheirOffsets() {
    // A 2 x 2 at offset 3, B 2 x 2 at offset 1, C at offset 2: [[1,2],[3,4]] . [[5,6],[7,8]] = [[19,22],[43,50]].
    DeviceBuffer big = up(new float[] {9, 9, 9, 1, 2, 3, 4, 9});
    DeviceBuffer bBig = up(new float[] {9, 5, 6, 7, 8});
    DeviceBuffer cBig = up(new float[] {-1, -1, 0, 0, 0, 0, -1});
    kernels.sgemm(false, false, 2, 2, 2, 1f, big.slice(3, 4), 2, bBig.slice(1, 4), 2, 0f, cBig.slice(2, 4), 2);
    assertThat(down(cBig)).containsExactly(-1, -1, 19, 22, 43, 50, -1);
  }

  @Test
  void sgemmRejectsBadShapesBeforeTouchingMemory() {
    DeviceBuffer a = up(new float[6]);
    DeviceBuffer b = up(new float[6]);
    DeviceBuffer c = up(new float[] {7, 7, 7, 7});
    assertThatThrownBy(() -> kernels.sgemm(false, false, 2, 2, 3, 1f, a, 2, b, 2, 0f, c, 2))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lda");
    assertThatThrownBy(() -> kernels.sgemm(false, false, 2, 2, 4, 1f, a, 4, b, 2, 0f, c, 2))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("a has 6 elements");
    assertThatThrownBy(() -> kernels.sgemm(false, false, 2, 2, 3, 1f, a, 3, b, 3, 0f, c, 2))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("b has 6 elements");
    assertThatThrownBy(() -> kernels.sgemm(false, false, 2, 2, 3, 1f, a, 3, b, 2, 0f, up(new float[4]).slice(0, 4), 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ldc");
    assertThatThrownBy(() -> kernels.sgemm(false, false, -1, 2, 3, 1f, a, 3, b, 2, 0f, c, 2))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> kernels.sgemm(false, false, 2, 2, 1, 1f, a, 1, b, 2, 0f, up(new float[4], DType.BF16), 2))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BF16");
    assertThatThrownBy(() -> kernels.sgemm(false, false, 1, 1, 1, 1f, c, 1, b, 1, 0f, c.slice(0, 1), 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlap");
    assertThat(down(c)).containsOnly(7f);
  }

  // ---------------------------------------------------------------- sparse products

  @ParameterizedTest(name = "transS={0}")
  @ValueSource(booleans = {false, true})
  void spmmMatchesADenseProduct(boolean trans) {
    Random r = new Random(trans ? 11 : 12);
    int rows = 33;
    int cols = 129;
    int n = 37;
    // Row r has r % 5 non-zeros (row 0 and every fifth row empty), with a repeated column in row 7.
    List<Integer> starts = new ArrayList<>(List.of(0));
    List<Integer> idx = new ArrayList<>();
    List<Float> val = new ArrayList<>();
    double[][] s = new double[rows][cols];
    for (int row = 0; row < rows; row++) {
      for (int t = 0; t < row % 5; t++) {
        int c = row == 7 && t == 1 ? idx.get(idx.size() - 1) : r.nextInt(cols);
        float v = r.nextFloat() * 2 - 1;
        idx.add(c);
        val.add(v);
        s[row][c] += v;
      }
      starts.add(idx.size());
    }
    float[] dense = random(r, (trans ? rows : cols) * n);
    float[] out0 = random(r, (trans ? cols : rows) * n);
    float alpha = 0.75f;
    for (float beta : new float[] {0f, -1.5f}) {
      float[] outInit = out0.clone();
      if (beta == 0f) {
        Arrays.fill(outInit, Float.NaN);
      }
      DeviceBuffer out = up(outInit);
      kernels.spmm(trans, rows, cols, n, alpha, up(starts.stream().mapToInt(Integer::intValue).toArray()),
          up(idx.stream().mapToInt(Integer::intValue).toArray()), up(toFloats(val)), up(dense), beta, out);
      float[] got = down(out);
      int outRows = trans ? cols : rows;
      int inner = trans ? rows : cols;
      for (int i = 0; i < outRows; i++) {
        for (int j = 0; j < n; j++) {
          double sum = 0;
          double mag = 0;
          for (int p = 0; p < inner; p++) {
            double sv = trans ? s[p][i] : s[i][p];
            sum += sv * dense[p * n + j];
            mag += Math.abs(sv * dense[p * n + j]);
          }
          double old = beta == 0f ? 0 : out0[i * n + j];
          double want = alpha * sum + beta * old;
          assertThat((double) got[i * n + j]).as("out(%d, %d)", i, j)
              .isCloseTo(want, within(10 * EPS * (mag + Math.abs(old)) + 1e-30));
        }
      }
    }
  }

  private static float[] toFloats(List<Float> values) {
    float[] out = new float[values.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = values.get(i);
    }
    return out;
  }

  @Test
  void spmmRejectsBadIndicesBeforeWriting() {
    DeviceBuffer out = up(new float[] {4, 4, 4, 4});
    DeviceBuffer dense = up(new float[] {1, 2, 3, 4, 5, 6});
    assertThatThrownBy(() -> kernels.spmm(false, 2, 3, 2, 1f, up(new int[] {0, 1, 2}), up(new int[] {0, 3}),
        up(new float[] {1, 1}), dense, 0f, out)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("colIndex[1] = 3");
    assertThatThrownBy(() -> kernels.spmm(false, 2, 3, 2, 1f, up(new int[] {0, 2, 1}), up(new int[] {0, 1}),
        up(new float[] {1, 1}), dense, 0f, out)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("decrease");
    assertThatThrownBy(() -> kernels.spmm(false, 2, 3, 2, 1f, up(new int[] {0, 1, 3}), up(new int[] {0, 1}),
        up(new float[] {1, 1}), dense, 0f, out)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3 non-zeros");
    assertThat(down(out)).containsOnly(4f);
  }

  /** A random sparse matrix for the sampled and transposed products: row starts, indices, values and its dense f64 form. */
  private record Sparse(int[] starts, int[] idx, float[] val, double[][] dense, double[][] magnitude) {}

  /**
   * Row {@code r} has {@code r % 4} non-zeros (row 0 and every fourth row empty, so some rows have
   * k = 0), row 6 repeats a column, and columns {@code [0, min(cols, 20))} are never used (a whole
   * block of 16 output columns with no entry).
   */
  private static Sparse randomSparse(Random r, int rows, int cols) {
    List<Integer> starts = new ArrayList<>(List.of(0));
    List<Integer> idx = new ArrayList<>();
    List<Float> val = new ArrayList<>();
    double[][] s = new double[rows][cols];
    double[][] m = new double[rows][cols];
    int low = cols > 20 ? 20 : 0;
    for (int row = 0; row < rows; row++) {
      for (int t = 0; t < row % 4; t++) {
        int c = row == 6 && t == 1 ? idx.get(idx.size() - 1) : low + r.nextInt(cols - low);
        float v = r.nextFloat() * 2 - 1;
        idx.add(c);
        val.add(v);
        s[row][c] += v;
        m[row][c] += Math.abs(v);
      }
      starts.add(idx.size());
    }
    return new Sparse(starts.stream().mapToInt(Integer::intValue).toArray(),
        idx.stream().mapToInt(Integer::intValue).toArray(), toFloats(val), s, m);
  }

  static Stream<Arguments> sampledShapes() {
    return Stream.of(Arguments.of(33, 129, 37), Arguments.of(9, 7, 1), Arguments.of(17, 41, 130),
        Arguments.of(1, 3, 16));
  }

  @ParameterizedTest(name = "rows={0} cols={1} n={2}")
  @MethodSource("sampledShapes")
  void sddmmMatchesF64DotsAtTheSparsePositions(int rows, int cols, int n) {
    Random r = new Random(rows * 31 + cols + n);
    Sparse sp = randomSparse(r, rows, cols);
    float[] a = random(r, rows * n);
    float[] b = random(r, cols * n);
    int nnz = sp.idx().length;
    float[] init = new float[nnz + 3];
    Arrays.fill(init, 5f);
    DeviceBuffer out = up(init);
    float alpha = -1.25f;
    kernels.sddmm(rows, cols, n, alpha, up(a), up(b), up(sp.starts()), up(sp.idx().length == 0 ? new int[1] : sp.idx()), out);
    float[] got = down(out);
    for (int row = 0; row < rows; row++) {
      for (int t = sp.starts()[row]; t < sp.starts()[row + 1]; t++) {
        double sum = 0;
        double mag = 0;
        for (int j = 0; j < n; j++) {
          double p = (double) a[row * n + j] * b[sp.idx()[t] * n + j];
          sum += p;
          mag += Math.abs(p);
        }
        assertThat((double) got[t]).as("out[%d] (row %d, column %d)", t, row, sp.idx()[t])
            .isCloseTo(alpha * sum, within(2 * n * EPS * Math.abs(alpha) * mag + 1e-30));
      }
    }
    assertThat(Arrays.copyOfRange(got, nnz, nnz + 3)).as("past the non-zeros").containsOnly(5f);
  }

  @Test
  void sddmmWithNoNonZerosOrBadIndicesWritesNothing() {
    DeviceBuffer out = up(new float[] {4, 4});
    DeviceBuffer a = up(new float[] {1, 2, 3, 4});
    DeviceBuffer b = up(new float[] {1, 2, 3, 4, 5, 6});
    kernels.sddmm(2, 3, 2, 1f, a, b, up(new int[] {0, 0, 0}), up(new int[] {0}), out);
    assertThat(down(out)).containsOnly(4f);
    assertThatThrownBy(() -> kernels.sddmm(2, 3, 2, 1f, a, b, up(new int[] {0, 1, 2}), up(new int[] {0, 3}), out))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("colIndex[1] = 3");
    assertThatThrownBy(() -> kernels.sddmm(2, 3, 2, 1f, a, b, up(new int[] {0, 2, 1}), up(new int[] {0, 1}), out))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("decrease");
    assertThatThrownBy(() -> kernels.sddmm(2, 3, 2, 1f, a, b, up(new int[] {0, 1, 3}), up(new int[] {0, 1, 2}), out))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3 non-zeros");
    assertThatThrownBy(() -> kernels.sddmm(2, 4, 2, 1f, a, b, up(new int[] {0, 1, 2}), up(new int[] {0, 1}), out))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("b has 6 elements");
    assertThat(down(out)).containsOnly(4f);
  }

  @ParameterizedTest(name = "rows={0} cols={1} n={2}")
  @MethodSource("sampledShapes")
  void denseTransposedSparseMatchesF64(int rows, int cols, int n) {
    Random r = new Random(rows * 17 + cols + n);
    Sparse sp = randomSparse(r, rows, cols);
    float[] dense = random(r, rows * n);
    float[] out0 = random(r, n * cols);
    float alpha = 0.75f;
    for (float beta : new float[] {0f, 1f, -1.5f}) {
      float[] init = out0.clone();
      if (beta == 0f) {
        Arrays.fill(init, Float.NaN);
      }
      DeviceBuffer out = up(init);
      kernels.denseTransposedSparse(rows, cols, n, alpha, up(dense), up(sp.starts()),
          up(sp.idx().length == 0 ? new int[1] : sp.idx()), up(sp.val().length == 0 ? new float[1] : sp.val()), beta, out);
      float[] got = down(out);
      for (int j = 0; j < n; j++) {
        for (int c = 0; c < cols; c++) {
          double sum = 0;
          double mag = 0;
          for (int row = 0; row < rows; row++) {
            sum += dense[row * n + j] * sp.dense()[row][c];
            // Duplicates are added one by one, so the bound counts each term's size, not their sum's.
            mag += Math.abs(dense[row * n + j]) * sp.magnitude()[row][c];
          }
          double old = beta == 0f ? 0 : out0[j * cols + c];
          assertThat((double) got[j * cols + c]).as("beta %s, out(%d, %d)", beta, j, c)
              .isCloseTo(alpha * sum + beta * old, within(10 * EPS * (mag + Math.abs(old)) + 1e-30));
        }
      }
    }
  }

  @Test
  void denseTransposedSparseRejectsBadIndicesAndSizes() {
    DeviceBuffer out = up(new float[] {4, 4, 4, 4, 4, 4});
    DeviceBuffer dense = up(new float[] {1, 2, 3, 4});
    assertThatThrownBy(() -> kernels.denseTransposedSparse(2, 3, 2, 1f, dense, up(new int[] {0, 1, 2}),
        up(new int[] {0, 3}), up(new float[] {1, 1}), 0f, out))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("colIndex[1] = 3");
    assertThatThrownBy(() -> kernels.denseTransposedSparse(2, 4, 2, 1f, dense, up(new int[] {0, 1, 2}),
        up(new int[] {0, 1}), up(new float[] {1, 1}), 0f, out))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("out has 6 elements");
    assertThat(down(out)).containsOnly(4f);
  }

  @Test
  void denseToCsrKeepsNonZerosInRowAndColumnOrder() {
    float[] x = {
      0, 2, 0, -0f,
      0, 0, 0, 0,
      Float.NaN, 0, -3, 5,
    };
    DeviceBuffer rowStart = alloc(DType.I32, 4);
    DeviceBuffer colIndex = alloc(DType.I32, 5);
    DeviceBuffer values = alloc(DType.F32, 5);
    long nnz = kernels.denseToCsr(up(x), 3, 4, rowStart, colIndex, values);
    assertThat(nnz).isEqualTo(4);
    assertThat(kernels.downloadInts(rowStart)).containsExactly(0, 1, 1, 4);
    assertThat(Arrays.copyOf(kernels.downloadInts(colIndex), 4)).containsExactly(1, 0, 2, 3);
    assertThat(Arrays.copyOf(down(values), 4)).containsExactly(2f, Float.NaN, -3f, 5f);
    assertThatThrownBy(() -> kernels.denseToCsr(up(x), 3, 4, rowStart, alloc(DType.I32, 3), values))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("4 non-zeros");
  }

  @ParameterizedTest(name = "n={0}")
  @ValueSource(ints = {1, 7, 4097, 300_001})
  void countPositiveCountsWhatIsAboveZero(int n) {
    Random r = new Random(n);
    float[] x = new float[n];
    float[] special = {0f, -0f, Float.NaN, Float.MIN_VALUE, -Float.MIN_VALUE, Float.POSITIVE_INFINITY,
        Float.NEGATIVE_INFINITY};
    long want = 0;
    for (int i = 0; i < n; i++) {
      x[i] = r.nextInt(5) == 0 ? special[r.nextInt(special.length)] : (float) r.nextGaussian();
      want += x[i] > 0f ? 1 : 0;
    }
    assertThat(kernels.countPositive(up(x))).isEqualTo(want);
    assertThat(kernels.countPositive(up(new float[] {Float.NaN, -0f, 0f}))).isZero();
  }

  /**
   * {@link Kernels#batchTopKToCsr} against a plain ranking of the flat positions (score descending
   * by {@link Float#compare}, then position), on coarse values with many ties at the threshold,
   * zeros and negatives, and a zero column scale: the rows hold the kept positive scores with
   * {@code x}'s values, and {@code x} is left alone.
   */
  static Stream<Arguments> batchTopKToCsrCases() {
    // 13 x 37 runs in one part; 300 x 300 is split over threads, so the ties at the threshold are
    // shared out between parts.
    return Stream.of(
        Arguments.of(13, 37, 0L), Arguments.of(13, 37, 1L), Arguments.of(13, 37, 7L), Arguments.of(13, 37, 60L),
        Arguments.of(13, 37, 200L), Arguments.of(13, 37, 481L), Arguments.of(13, 37, 500L),
        Arguments.of(300, 300, 9000L), Arguments.of(300, 300, 30000L));
  }

  @ParameterizedTest(name = "{0} x {1}, keep={2}")
  @MethodSource("batchTopKToCsrCases")
  void batchTopKToCsrKeepsTheLargestPositiveScoresAsRows(int rows, int cols, long keep) {
    int n = rows * cols;
    Random r = new Random(keep + 11);
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = r.nextInt(4) == 0 ? 0f : (r.nextInt(9) - 2) * 0.5f;
    }
    float[] scale = new float[cols];
    for (int c = 0; c < cols; c++) {
      scale[c] = c == 5 ? 0f : 1f + r.nextInt(3);
    }
    BatchTopKOracle want = BatchTopKOracle.of(x, scale, rows, cols, keep);
    int kept = (int) Math.min(keep, n);
    DeviceBuffer xb = up(x);
    DeviceBuffer rowStart = alloc(DType.I32, rows + 1);
    DeviceBuffer colIndex = alloc(DType.I32, Math.max(1, kept));
    DeviceBuffer values = alloc(DType.F32, Math.max(1, kept));
    float got = kernels.batchTopKToCsr(xb, up(scale), rows, cols, keep, alloc(DType.F32, n), rowStart, colIndex,
        values);
    assertThat(got).isEqualTo(want.minKept());
    assertThat(kernels.downloadInts(rowStart)).containsExactly(want.rowStart());
    int nnz = want.nnz();
    assertThat(Arrays.copyOf(kernels.downloadInts(colIndex), nnz)).containsExactly(want.colIndex());
    assertThat(Arrays.copyOf(down(values), nnz)).containsExactly(want.values());
    assertThat(down(xb)).containsExactly(x);
    if (nnz > 0) {
      assertThatThrownBy(() -> kernels.batchTopKToCsr(xb, up(scale), rows, cols, keep, alloc(DType.F32, n),
          rowStart, alloc(DType.I32, nnz - 1), values)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  /** {@link Kernels#topKOfColumns} against sorting each row's listed columns (value descending, then column). */
  @ParameterizedTest(name = "k={0}")
  @ValueSource(ints = {0, 1, 5, 17})
  void topKOfColumnsRanksOnlyTheListedColumns(int k) {
    int rows = 9;
    int cols = 40;
    Random r = new Random(k + 3);
    float[] x = new float[rows * cols];
    for (int i = 0; i < x.length; i++) {
      x[i] = (r.nextInt(7) - 1) * 0.25f;
    }
    int[] list = IntStream.range(0, cols).filter(c -> c % 3 != 1 && c != 8).limit(17).toArray();
    int count = list.length;
    float[] wantValues = new float[rows * k];
    int[] wantIndices = new int[rows * k];
    for (int row = 0; row < rows; row++) {
      int rr = row;
      Integer[] cs = Arrays.stream(list).boxed().toArray(Integer[]::new);
      Arrays.sort(cs, (a, b) -> {
        int byValue = Float.compare(x[rr * cols + b], x[rr * cols + a]);
        return byValue != 0 ? byValue : a - b;
      });
      for (int t = 0; t < k; t++) {
        wantIndices[row * k + t] = cs[t];
        wantValues[row * k + t] = x[row * cols + cs[t]];
      }
    }
    DeviceBuffer values = alloc(DType.F32, Math.max(1, rows * k));
    DeviceBuffer indices = alloc(DType.I32, Math.max(1, rows * k));
    kernels.topKOfColumns(up(x), rows, cols, up(list), count, k, alloc(DType.F32, rows * cols), values, indices);
    assertThat(Arrays.copyOf(kernels.downloadInts(indices), rows * k)).containsExactly(wantIndices);
    assertThat(Arrays.copyOf(down(values), rows * k)).containsExactly(wantValues);
    int[] unsorted = list.clone();
    unsorted[1] = unsorted[0];
    assertThatThrownBy(() -> kernels.topKOfColumns(up(x), rows, cols, up(unsorted), count, Math.min(k, count),
        alloc(DType.F32, rows * cols), values, indices)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("increasing");
  }

  // ---------------------------------------------------------------- row-wise kernels

  @ParameterizedTest(name = "cols={0}")
  @ValueSource(ints = {1, 7, 33, 129})
  void scaleColumnsIsOneRoundedProductInPlaceAndOut(int cols) {
    Random r = new Random(cols + 5);
    int rows = 9;
    float[] x = random(r, rows * cols);
    float[] scale = random(r, cols);
    float[] want = new float[rows * cols];
    for (int i = 0; i < want.length; i++) {
      want[i] = (float) ((double) x[i] * scale[i % cols]); // the f64 product of two floats is exact
    }
    DeviceBuffer out = up(new float[rows * cols]);
    kernels.scaleColumns(up(x), up(scale), out, rows, cols);
    assertThat(down(out)).containsExactly(want);
    DeviceBuffer inPlace = up(x);
    kernels.scaleColumns(inPlace, up(scale), inPlace, rows, cols);
    assertThat(down(inPlace)).containsExactly(want);
    assertThatThrownBy(() -> kernels.scaleColumns(up(x), up(new float[cols]), up(new float[rows * cols - 1]), rows, cols))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("out");
  }

  @ParameterizedTest(name = "cols={0}")
  @ValueSource(ints = {1, 7, 33, 129})
  void biasAddWithAndWithoutReluInPlaceAndOut(int cols) {
    Random r = new Random(cols);
    int rows = 5;
    float[] x = random(r, rows * cols);
    x[0] = Float.NaN;
    float[] bias = random(r, cols);
    DeviceBuffer xb = up(x);
    DeviceBuffer out = alloc(DType.F32, (long) rows * cols);
    kernels.biasAdd(xb, up(bias), out, rows, cols, false);
    float[] plain = down(out);
    kernels.biasAdd(xb, up(bias), xb, rows, cols, true);
    float[] relu = down(xb);
    for (int i = 0; i < rows * cols; i++) {
      float s = x[i] + bias[i % cols];
      if (i == 0) {
        assertThat(plain[i]).isNaN();
        assertThat(relu[i]).as("ReLU of NaN").isZero();
        continue;
      }
      assertThat(plain[i]).isEqualTo(s);
      assertThat(relu[i]).isEqualTo(s > 0 ? s : 0f);
    }
  }

  @ParameterizedTest(name = "cols={0}")
  @ValueSource(ints = {1, 7, 33, 129})
  void rowNormsOfOneHalfOfEachRow(int cols) {
    Random r = new Random(100 + cols);
    int rows = 7;
    int ld = 2 * cols + 1;
    float[] x = random(r, rows * ld);
    DeviceBuffer xb = up(x);
    DeviceBuffer out = alloc(DType.F32, rows);
    // The second half: columns [cols, 2 cols) of each row.
    kernels.rowNorms(xb.slice(cols, (long) (rows - 1) * ld + cols), rows, cols, ld, out);
    float[] got = down(out);
    for (int i = 0; i < rows; i++) {
      double s = 0;
      for (int c = cols; c < 2 * cols; c++) {
        s += (double) x[i * ld + c] * x[i * ld + c];
      }
      assertThat((double) got[i]).isCloseTo(Math.sqrt(s), within(4 * EPS * Math.sqrt(s) * Math.sqrt(cols)));
    }
  }

  @Test
  void topKBreaksTiesByLowerIndexAndOrdersLikeFloatCompare() {
    float[] x = {
      1, 3, 3, 2, 3,
      0f, -0f, Float.NaN, Float.POSITIVE_INFINITY, -1,
      -0f, 5, 0f, -0f, 5, // a later 0.0 outranks an earlier -0.0
    };
    DeviceBuffer values = alloc(DType.F32, 9);
    DeviceBuffer indices = alloc(DType.I32, 9);
    kernels.topK(up(x), 3, 5, 3, values, indices);
    assertThat(down(values)).containsExactly(3, 3, 3, Float.NaN, Float.POSITIVE_INFINITY, 0f, 5, 5, 0f);
    assertThat(kernels.downloadInts(indices)).containsExactly(1, 2, 4, 2, 3, 0, 1, 4, 2);
  }

  @ParameterizedTest(name = "cols={0}")
  @ValueSource(ints = {1, 7, 33, 129, 1000})
  void topKMatchesASortWithManyTies(int cols) {
    Random r = new Random(cols);
    int rows = 9;
    float[] x = new float[rows * cols];
    for (int i = 0; i < x.length; i++) {
      x[i] = r.nextInt(6) - 2; // six values: plenty of ties
    }
    for (int k : new int[] {1, Math.min(cols, 5), cols}) {
      DeviceBuffer values = alloc(DType.F32, (long) rows * k);
      DeviceBuffer indices = alloc(DType.I32, (long) rows * k);
      kernels.topK(up(x), rows, cols, k, values, indices);
      float[] gv = down(values);
      int[] gi = kernels.downloadInts(indices);
      for (int row = 0; row < rows; row++) {
        int base = row * cols;
        Integer[] order = IntStream.range(0, cols).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.<Integer>comparingDouble(c -> -x[base + c]).thenComparingInt(c -> c));
        for (int t = 0; t < k; t++) {
          assertThat(gi[row * k + t]).as("row %d rank %d, k=%d", row, t, k).isEqualTo(order[t]);
          assertThat(gv[row * k + t]).isEqualTo(x[base + order[t]]);
        }
      }
    }
  }

  @Test
  void topKOfDistinctValuesMatchesASort() {
    Random r = new Random(77);
    int rows = 3;
    int cols = 5000;
    float[] x = random(r, rows * cols);
    for (int k : new int[] {1, 100, 1500, cols}) {
      DeviceBuffer values = alloc(DType.F32, (long) rows * k);
      DeviceBuffer indices = alloc(DType.I32, (long) rows * k);
      kernels.topK(up(x), rows, cols, k, values, indices);
      float[] gv = down(values);
      int[] gi = kernels.downloadInts(indices);
      for (int row = 0; row < rows; row++) {
        int base = row * cols;
        Integer[] order = IntStream.range(0, cols).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.<Integer>comparingDouble(c -> -x[base + c]).thenComparingInt(c -> c));
        for (int t = 0; t < k; t++) {
          assertThat(gi[row * k + t]).as("row %d rank %d, k=%d", row, t, k).isEqualTo(order[t]);
          assertThat(gv[row * k + t]).isEqualTo(x[base + order[t]]);
        }
      }
    }
  }

  @ParameterizedTest(name = "n={0}")
  @ValueSource(ints = {1, 7, 129, 200_003})
  void batchTopKKeepsTheLargestAndBreaksTiesByPosition(int n) {
    Random r = new Random(n);
    float[] scores = new float[n];
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      scores[i] = r.nextInt(4) * 0.5f; // four values, ties everywhere, zeros included
      x[i] = r.nextFloat() + 1;
    }
    Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
    Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -scores[i]).thenComparingInt(i -> i));
    for (long keep : new long[] {1, n / 3 + 1, n - 1, n}) {
      if (keep < 1 || keep > n) {
        continue;
      }
      DeviceBuffer xb = up(x);
      float threshold = kernels.batchTopK(up(scores), keep, xb);
      boolean[] kept = new boolean[n];
      for (int t = 0; t < keep; t++) {
        kept[order[t]] = true;
      }
      assertThat(threshold).as("threshold, keep=%d", keep).isEqualTo(scores[order[(int) keep - 1]]);
      float[] got = down(xb);
      for (int i = 0; i < n; i++) {
        if (got[i] != (kept[i] ? x[i] : 0f)) {
          assertThat(got[i]).as("x[%d] with score %s, keep=%d", i, scores[i], keep).isEqualTo(kept[i] ? x[i] : 0f);
        }
      }
    }
  }

  @Test
  void batchTopKInPlaceOnScoresAndKeepZero() {
    DeviceBuffer s = up(new float[] {0.5f, 2f, -1f, 2f, 7f});
    assertThat(kernels.batchTopK(s, 2, s)).isEqualTo(2f);
    assertThat(down(s)).containsExactly(0f, 2f, 0f, 0f, 7f);
    DeviceBuffer t = up(new float[] {3f, 1f});
    assertThat(kernels.batchTopK(t, 0, t)).isEqualTo(Float.POSITIVE_INFINITY);
    assertThat(down(t)).containsExactly(0f, 0f);
    DeviceBuffer u = up(new float[] {3f, -1f, 2f});
    assertThat(kernels.batchTopK(u, 5, u)).isEqualTo(-1f);
    assertThat(down(u)).containsExactly(3f, -1f, 2f);
  }

  // ---------------------------------------------------------------- element-wise and reductions

  static Stream<Integer> sizes() {
    return Stream.of(1, 7, 33, 129, 100_003);
  }

  @ParameterizedTest(name = "n={0}")
  @MethodSource("sizes")
  void elementWiseKernelsMatchLoops(int n) {
    Random r = new Random(n);
    float[] x = random(r, n);
    float[] y = random(r, n);
    for (int i = 0; i < n; i += 3) {
      x[i] = 0f; // ReLU backward's boundary
    }
    DeviceBuffer xb = up(x);
    DeviceBuffer out = alloc(DType.F32, n);

    kernels.add(xb, up(y), out);
    float[] add = down(out);
    kernels.subtract(xb, up(y), out);
    float[] sub = down(out);
    kernels.multiply(xb, up(y), out);
    float[] mul = down(out);
    kernels.reluBackward(up(y), xb, out);
    float[] relu = down(out);
    DeviceBuffer yb = up(y);
    kernels.axpy(-0.25f, xb, yb);
    float[] axpy = down(yb);
    DeviceBuffer sb = up(x);
    kernels.scale(3f, sb);
    float[] scaled = down(sb);
    DeviceBuffer inPlace = up(x);
    kernels.add(inPlace, inPlace, inPlace);
    float[] doubled = down(inPlace);
    kernels.fill(out, -4.5f);
    float[] filled = down(out);
    for (int i = 0; i < n; i++) {
      assertThat(add[i]).isEqualTo(x[i] + y[i]);
      assertThat(sub[i]).isEqualTo(x[i] - y[i]);
      assertThat(mul[i]).isEqualTo(x[i] * y[i]);
      assertThat(relu[i]).isEqualTo(x[i] > 0 ? y[i] : 0f);
      assertThat((double) axpy[i]).isCloseTo(-0.25 * x[i] + y[i], within(EPS * 2));
      assertThat(scaled[i]).isEqualTo(3f * x[i]);
      assertThat(doubled[i]).isEqualTo(2 * x[i]);
      assertThat(filled[i]).isEqualTo(-4.5f);
    }
  }

  @ParameterizedTest(name = "n={0}")
  @MethodSource("sizes")
  void sumsMatchF64Loops(int n) {
    Random r = new Random(n + 1);
    float[] x = random(r, n);
    double sum = 0;
    double squares = 0;
    double abs = 0;
    for (float v : x) {
      sum += v;
      squares += (double) v * v;
      abs += Math.abs(v);
    }
    DeviceBuffer xb = up(x);
    // f32 blocks of 4096: error at most 4096 * eps of the magnitudes.
    assertThat(kernels.sum(xb)).isCloseTo(sum, within(4100 * EPS * abs));
    assertThat(kernels.sumOfSquares(xb)).isCloseTo(squares, within(4100 * EPS * squares));
  }

  @Test
  void sumOfSquaresOfKnownValues() {
    assertThat(kernels.sumOfSquares(up(new float[] {3, 4, 12}))).isEqualTo(169.0);
    assertThat(kernels.sum(up(new float[] {0.5f, 0.25f, -2f}))).isEqualTo(-1.25);
  }

  @ParameterizedTest(name = "cols={0}")
  @ValueSource(ints = {1, 7, 33, 129})
  void columnSumsMatchF64Loops(int cols) {
    Random r = new Random(cols + 2);
    int rows = 600;
    float[] x = random(r, rows * cols);
    DeviceBuffer out = alloc(DType.F32, cols);
    kernels.columnSums(up(x), rows, cols, out);
    float[] got = down(out);
    for (int c = 0; c < cols; c++) {
      double s = 0;
      double abs = 0;
      for (int i = 0; i < rows; i++) {
        s += x[i * cols + c];
        abs += Math.abs(x[i * cols + c]);
      }
      assertThat((double) got[c]).isCloseTo(s, within(260 * EPS * abs));
    }
  }

  // ---------------------------------------------------------------- read-only views of host memory

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"F32", "BF16"})
  void wrapReadOnlyHoldsTheSegmentAlignedOrNot(String typeName) {
    DType type = DType.valueOf(typeName);
    int rows = 37;
    int cols = 70;
    Random r = new Random(typeName.hashCode());
    float[] w = new float[rows * cols];
    for (int i = 0; i < w.length; i++) {
      w[i] = (r.nextInt(257) - 128) / 64f; // exact in bf16
    }
    try (Arena arena = Arena.ofConfined()) {
      ValueLayout.OfShort h = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
      ValueLayout.OfFloat f = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
      for (int shift : new int[] {0, 1}) {
        // shift 1: an address no element type divides, which the CPU cannot view in place.
        MemorySegment file = arena.allocate((long) w.length * type.byteSize() + 1, 64).asSlice(shift);
        for (int i = 0; i < w.length; i++) {
          if (type == DType.F32) {
            file.set(f, 4L * i, w[i]);
          } else {
            file.set(h, 2L * i, (short) (Float.floatToRawIntBits(w[i]) >>> 16));
          }
        }
        DeviceBuffer wb = track(kernels.wrapReadOnly(file, type, w.length));
        assertThat(wb.dtype()).isEqualTo(type);
        assertThat(wb.size()).isEqualTo(w.length);
        assertThat(down(wb)).containsExactly(w);
        // As the transposed B operand of a product, the way a linear layer's [out, in] weight is used.
        int m = 5;
        float[] x = new float[m * cols];
        for (int i = 0; i < x.length; i++) {
          x[i] = (r.nextInt(129) - 64) / 32f;
        }
        DeviceBuffer y = alloc(DType.F32, (long) m * rows);
        kernels.sgemm(false, true, m, rows, cols, 1f, up(x), cols, wb, cols, 0f, y, rows);
        float[] got = down(y);
        for (int i = 0; i < m; i++) {
          for (int j = 0; j < rows; j++) {
            double want = 0;
            for (int p = 0; p < cols; p++) {
              want += (double) x[i * cols + p] * w[j * cols + p];
            }
            assertThat((double) got[i * rows + j]).isEqualTo(want); // multiples of 2^-11, exact in f32
          }
        }
        wb.close();
        assertThat(file.get(ValueLayout.JAVA_BYTE, 0)).as("closing the buffer leaves the segment alone")
            .isEqualTo(file.get(ValueLayout.JAVA_BYTE, 0));
      }
      MemorySegment small = arena.allocate(8);
      assertThatThrownBy(() -> kernels.wrapReadOnly(small, DType.F32, 3)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> kernels.wrapReadOnly(small, DType.F16, 2)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  // ---------------------------------------------------------------- transformer kernels

  @ParameterizedTest(name = "cols={0}")
  @ValueSource(ints = {1, 7, 33, 129, 1000})
  void rmsNormMatchesF64InPlaceAndOut(int cols) {
    Random r = new Random(200 + cols);
    int rows = 5;
    float[] x = random(r, rows * cols);
    for (int i = 0; i < cols; i++) {
      x[i] *= 40; // a row with a large norm, as the first position of a decoder has
    }
    float[] w = random(r, cols);
    float eps = 1e-5f;
    DeviceBuffer xb = up(x);
    DeviceBuffer out = alloc(DType.F32, (long) rows * cols);
    kernels.rmsNorm(xb, up(w), out, rows, cols, eps);
    float[] separate = down(out);
    kernels.rmsNorm(xb, up(w), xb, rows, cols, eps);
    float[] inPlace = down(xb);
    for (int i = 0; i < rows; i++) {
      double squares = 0;
      for (int c = 0; c < cols; c++) {
        squares += (double) x[i * cols + c] * x[i * cols + c];
      }
      double s = 1 / Math.sqrt(squares / cols + eps);
      for (int c = 0; c < cols; c++) {
        double want = x[i * cols + c] * s * w[c];
        double bound = (cols + 8) * EPS * Math.abs(want) + 1e-30;
        assertThat((double) separate[i * cols + c]).as("row %d col %d", i, c).isCloseTo(want, within(bound));
        assertThat(inPlace[i * cols + c]).isEqualTo(separate[i * cols + c]);
      }
    }
    assertThatThrownBy(() -> kernels.rmsNorm(xb, up(w), out, rows, cols, -1f)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> kernels.rmsNorm(xb, up(new float[cols]).slice(0, cols - 1), out, rows, cols, eps))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("weight");
    assertThatThrownBy(() -> kernels.rmsNorm(xb, up(w), xb.slice(1, (long) rows * cols - 1), rows - 1, cols, eps))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlap");
  }

  @ParameterizedTest(name = "headDim={0}")
  @ValueSource(ints = {2, 8, 34, 130})
  void rotaryEmbeddingRotatesEachHalfPairByItsPosition(int headDim) {
    Random r = new Random(300 + headDim);
    int rows = 7;
    int heads = 3;
    int half = headDim / 2;
    int tableRows = 11;
    float[] x = random(r, rows * heads * headDim);
    float[] cos = new float[tableRows * half];
    float[] sin = new float[tableRows * half];
    for (int i = 0; i < cos.length; i++) {
      double angle = r.nextDouble() * 20 - 10;
      cos[i] = (float) Math.cos(angle);
      sin[i] = (float) Math.sin(angle);
    }
    int[] pos = {0, 10, 3, 3, 7, 1, 0};
    DeviceBuffer xb = up(x);
    kernels.rotaryEmbedding(xb, rows, heads, headDim, up(pos), up(cos), up(sin));
    float[] got = down(xb);
    for (int row = 0; row < rows; row++) {
      for (int h = 0; h < heads; h++) {
        int at = (row * heads + h) * headDim;
        for (int i = 0; i < half; i++) {
          double a = x[at + i];
          double b = x[at + half + i];
          double c = cos[pos[row] * half + i];
          double s = sin[pos[row] * half + i];
          double first = 2 * EPS * (Math.abs(a * c) + Math.abs(b * s)) + 1e-30;
          double second = 2 * EPS * (Math.abs(b * c) + Math.abs(a * s)) + 1e-30;
          assertThat((double) got[at + i]).as("row %d head %d i %d", row, h, i).isCloseTo(a * c - b * s, within(first));
          assertThat((double) got[at + half + i]).isCloseTo(b * c + a * s, within(second));
        }
      }
    }
    int[] bad = pos.clone();
    bad[4] = tableRows;
    assertThatThrownBy(() -> kernels.rotaryEmbedding(xb, rows, heads, headDim, up(bad), up(cos), up(sin)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("positions[4] = 11");
    assertThat(down(xb)).containsExactly(got);
    assertThatThrownBy(() -> kernels.rotaryEmbedding(xb, rows, heads, headDim + 1, up(pos), up(cos), up(sin)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("even");
  }

  static Stream<Arguments> softmaxShapes() {
    return Stream.of(
        // rows, cols, ld, firstQuery, window
        Arguments.of(1, 1, 1, 0, 0),
        Arguments.of(7, 7, 7, 0, 0),
        Arguments.of(33, 33, 40, 0, 0),
        Arguments.of(5, 12, 12, 7, 0), // the last five queries of twelve keys
        Arguments.of(5, 12, 15, 7, 3),
        Arguments.of(129, 129, 129, 0, 16),
        Arguments.of(3, 300, 301, 297, 1), // a window of one: each query sees only itself
        Arguments.of(40, 1030, 1030, 990, 0),
        Arguments.of(2, 3, 3, 10, 2)); // keys 9 and 10 visible, none stored: rows of zeros
  }

  @ParameterizedTest(name = "rows={0} cols={1} ld={2} firstQuery={3} window={4}")
  @MethodSource("softmaxShapes")
  void causalSoftmaxMatchesF64UnderTheMask(int rows, int cols, int ld, int firstQuery, int window) {
    Random r = new Random(31L * rows + cols + window);
    float[] x = new float[(rows - 1) * ld + cols];
    for (int i = 0; i < x.length; i++) {
      x[i] = i % ld >= cols ? Float.NaN : (float) (r.nextDouble() * 16 - 8);
    }
    DeviceBuffer xb = up(x);
    kernels.causalSoftmax(xb, rows, cols, ld, firstQuery, window);
    float[] got = down(xb);
    for (int i = 0; i < rows; i++) {
      int q = firstQuery + i;
      double max = Double.NEGATIVE_INFINITY;
      int visible = 0;
      for (int j = 0; j < cols; j++) {
        if (j <= q && (window <= 0 || q - j < window)) {
          max = Math.max(max, x[i * ld + j]);
          visible++;
        }
      }
      double sum = 0;
      for (int j = 0; j < cols; j++) {
        if (j <= q && (window <= 0 || q - j < window)) {
          sum += Math.exp(x[i * ld + j] - max);
        }
      }
      for (int j = 0; j < ld && i * ld + j < x.length; j++) {
        float g = got[i * ld + j];
        if (j >= cols) {
          assertThat(g).as("padding (%d, %d) must not be touched", i, j).isNaN();
        } else if (j <= q && (window <= 0 || q - j < window)) {
          double want = Math.exp(x[i * ld + j] - max) / sum;
          assertThat((double) g).as("(%d, %d)", i, j).isCloseTo(want, within((visible + 8) * EPS * want + 1e-38));
        } else {
          assertThat(g).as("hidden (%d, %d)", i, j).isEqualTo(0f);
        }
      }
    }
  }

  @Test
  void causalSoftmaxRejectsBadShapes() {
    DeviceBuffer x = up(new float[] {1, 2, 3, 4});
    assertThatThrownBy(() -> kernels.causalSoftmax(x, 2, 2, 1, 0, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ld");
    assertThatThrownBy(() -> kernels.causalSoftmax(x, 2, 3, 3, 0, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x has 4");
    assertThatThrownBy(() -> kernels.causalSoftmax(x, 2, 2, 2, -1, 0)).isInstanceOf(IllegalArgumentException.class);
    assertThat(down(x)).containsExactly(1, 2, 3, 4);
  }

  @ParameterizedTest(name = "n={0}")
  @MethodSource("sizes")
  void siluMultiplyMatchesF64InPlaceOnEitherInput(int n) {
    Random r = new Random(400 + n);
    float[] g = new float[n];
    for (int i = 0; i < n; i++) {
      g[i] = (float) (r.nextDouble() * 60 - 30);
    }
    float[] special = {0f, -0f, -100f, 100f, 1e-30f, -87f, 20f};
    for (int i = 0; i < Math.min(n, special.length); i++) {
      g[i * (n / special.length + 1) % n] = special[i];
    }
    float[] u = random(r, n);
    DeviceBuffer out = alloc(DType.F32, n);
    kernels.siluMultiply(up(g), up(u), out);
    float[] separate = down(out);
    DeviceBuffer gb = up(g);
    kernels.siluMultiply(gb, up(u), gb);
    DeviceBuffer ub = up(u);
    kernels.siluMultiply(up(g), ub, ub);
    float[] onGate = down(gb);
    float[] onUp = down(ub);
    for (int i = 0; i < n; i++) {
      double want = g[i] / (1 + Math.exp(-(double) g[i])) * u[i];
      assertThat((double) separate[i]).as("g=%s u=%s", g[i], u[i]).isCloseTo(want, within(8 * EPS * Math.abs(want) + 1e-37));
      assertThat(onGate[i]).isEqualTo(separate[i]);
      assertThat(onUp[i]).isEqualTo(separate[i]);
    }
    assertThatThrownBy(() -> kernels.siluMultiply(up(g), up(new float[n + 1]), out)).isInstanceOf(IllegalArgumentException.class);
  }

  // ---------------------------------------------------------------- Adam

  @Test
  void adamFirstStepsByHand() {
    // lr 0.1, betas (0.9, 0.999), eps 1e-8, param 1, grad 0.5 then -1.
    // Step 1: m = 0.05, v = 0.00025, m^ = 0.5, v^ = 0.25, param = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.9.
    // Step 2: m = 0.045 - 0.1 = -0.055, v = 0.00024975 + 0.001 = 0.00124975,
    //   m^ = -0.055 / 0.19 = -0.289473684, v^ = 0.00124975 / 0.001999 = 0.625187594,
    //   param = 0.9 + 0.1 * 0.289473684 / 0.790688 = 0.936610.
    // Tolerances: 0.9f and 0.999f are not 0.9 and 0.999, so 1 - beta is off by up to 5e-5 relative.
    DeviceBuffer p = up(new float[] {1f});
    DeviceBuffer m = alloc(DType.F32, 1);
    DeviceBuffer v = alloc(DType.F32, 1);
    kernels.adam(p, up(new float[] {0.5f}), m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 1);
    assertThat(down(p)[0]).isCloseTo(0.9f, within(1e-6f));
    assertThat(down(m)[0]).isCloseTo(0.05f, within(0.05f * 1e-6f));
    assertThat(down(v)[0]).isCloseTo(0.00025f, within(0.00025f * 1e-4f));
    kernels.adam(p, up(new float[] {-1f}), m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 2);
    assertThat(down(m)[0]).isCloseTo(-0.055f, within(0.055f * 1e-6f));
    assertThat(down(v)[0]).isCloseTo(0.00124975f, within(0.00124975f * 1e-4f));
    assertThat(down(p)[0]).isCloseTo(0.936610f, within(5e-6f));
  }

  @ParameterizedTest(name = "n={0}")
  @MethodSource("sizes")
  void adamMatchesAnF64LoopOverSteps(int n) {
    Random r = new Random(n + 3);
    float[] p0 = random(r, n);
    double[] p = new double[n];
    double[] m = new double[n];
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      p[i] = p0[i];
    }
    DeviceBuffer pb = up(p0);
    DeviceBuffer mb = alloc(DType.F32, n);
    DeviceBuffer vb = alloc(DType.F32, n);
    // The oracle uses the f32 hyper-parameters the kernel receives, widened exactly.
    double lr = 1e-3f;
    double b1 = 0.9f;
    double b2 = 0.999f;
    double eps = 1e-8f;
    for (int step = 1; step <= 3; step++) {
      float[] g = random(r, n);
      kernels.adam(pb, up(g), mb, vb, (float) lr, (float) b1, (float) b2, (float) eps, step);
      for (int i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        double mh = m[i] / (1 - Math.pow(b1, step));
        double vh = v[i] / (1 - Math.pow(b2, step));
        p[i] -= lr * mh / (Math.sqrt(vh) + eps);
      }
    }
    float[] got = down(pb);
    for (int i = 0; i < n; i++) {
      // Each step moves a parameter by at most about lr; f32 keeps that to ~1e-6 of lr.
      assertThat((double) got[i]).as("param[%d]", i).isCloseTo(p[i], within(4 * EPS * Math.abs(p[i]) + 1e-8));
    }
  }

  @Test
  void adamRejectsBadHyperParameters() {
    DeviceBuffer p = up(new float[] {1f});
    DeviceBuffer g = up(new float[] {1f});
    DeviceBuffer m = alloc(DType.F32, 1);
    DeviceBuffer v = alloc(DType.F32, 1);
    assertThatThrownBy(() -> kernels.adam(p, g, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> kernels.adam(p, g, m, v, 0.1f, 1f, 0.999f, 1e-8f, 1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> kernels.adam(p, g, m, v, Float.NaN, 0.9f, 0.999f, 1e-8f, 1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> kernels.adam(p, g, m, m, 0.1f, 0.9f, 0.999f, 1e-8f, 1)).isInstanceOf(IllegalArgumentException.class);
    assertThat(down(p)).containsExactly(1f);
  }
}
