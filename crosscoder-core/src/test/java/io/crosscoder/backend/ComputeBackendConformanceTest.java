package io.crosscoder.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.metric.PairStatistics;
import io.crosscoder.metric.RowStatistics;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.apache.commons.math3.linear.ArrayRealVector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The contract of {@link ComputeBackend#pairStatistics}, checked against an independent f64
 * oracle ({@link PairOracle}: exact f64 products through Commons Math) for every backend. A
 * backend module subclasses this once per code path and returns a fresh backend from {@link
 * #backend()}; the test closes it.
 *
 * <p>Sums may differ from the oracle by {@link #relativeTolerance()} of their scale (the sum
 * itself for squares, {@code |A| |B|} for the dot) plus {@code count * 2^-149}, what products in
 * f32 may lose below the normal range. Counts, {@code changed}, {@code nonFinite} and the maximum
 * must be exact. Tensors live in a confined arena made per test.
 */
public abstract class ComputeBackendConformanceTest {
  private static final double SUBNORMAL_LOSS = 0x1p-149;

  private ComputeBackend backend;
  private Arena arena;

  /** A new backend of the implementation under test; the test closes it. */
  protected abstract ComputeBackend backend();

  /** Allowed relative error of the sums against exact f64 sums. */
  protected double relativeTolerance() {
    return 1e-5;
  }

  @BeforeEach
  void open() {
    backend = backend();
    arena = Arena.ofConfined();
  }

  @AfterEach
  void close() {
    // Both are null when backend() skipped the test.
    if (arena != null) {
      arena.close();
    }
    if (backend != null) {
      backend.close();
    }
  }

  static Stream<Arguments> shapes() {
    List<Arguments> args = new ArrayList<>();
    long[][] shapes = {{1, 1}, {3, 17}, {65, 1023}, {70000}, {1, 70000}, {2, 9001}, {4, 3, 5}, {}};
    for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
      for (long[] s : shapes) {
        args.add(Arguments.of(t, s));
      }
    }
    return args.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("shapes")
  void randomTensorsMatchTheOracle(DType dtype, long[] shape) {
    int n = (int) Arrays.stream(shape).reduce(1, Math::multiplyExact);
    float[] a = TestTensors.random(dtype, n, 0.05, 11 + n);
    float[] b = TestTensors.perturb(dtype, a, 0.3, 0.01, 12 + n);
    checkAgainstOracle(TestTensors.plain(arena, "w", dtype, shape, a), TestTensors.plain(arena, "w", dtype, shape, b), a, b);
  }

  @Test
  void mixedDtypesCompareTheirF32Values() {
    long[] shape = {65, 1023};
    float[] a = TestTensors.random(DType.F32, 65 * 1023, 0.05, 1);
    float[] b = TestTensors.perturb(DType.BF16, a, 1.0, 0.001, 2);
    checkAgainstOracle(TestTensors.plain(arena, "w", DType.F32, shape, a), TestTensors.plain(arena, "w", DType.BF16, shape, b), a, b);
    float[] c = TestTensors.random(DType.F16, 65 * 1023, 0.5, 3);
    float[] d = TestTensors.perturb(DType.BF16, c, 0.5, 0.01, 4);
    checkAgainstOracle(TestTensors.plain(arena, "w", DType.F16, shape, c), TestTensors.plain(arena, "w", DType.BF16, shape, d), c, d);
    checkAgainstOracle(TestTensors.plain(arena, "w", DType.BF16, shape, d), TestTensors.plain(arena, "w", DType.F32, shape, a), d, a);
  }

  @ParameterizedTest
  @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
  void zeroTensorsHaveCosineOneAgainstEachOtherAndZeroAgainstOthers(DType dtype) {
    long[] shape = {7, 33};
    float[] zeros = new float[7 * 33];
    float[] other = TestTensors.random(dtype, zeros.length, 1, 5);
    RowStatistics rows = new RowStatistics(7);
    PairStatistics both = backend.pairStatistics(
        TestTensors.plain(arena, "z", dtype, shape, zeros), TestTensors.plain(arena, "z", dtype, shape, zeros), 0, 7, rows);
    assertThat(both.count()).isEqualTo(zeros.length);
    assertThat(List.of(both.dot(), both.baseSquares(), both.targetSquares(), both.diffSquares(), both.maxAbsDiff()))
        .containsOnly(0.0);
    assertThat(both.changed()).isZero();
    assertThat(both.cosine()).isEqualTo(1.0);
    assertThat(both.relativeChange()).isZero();
    for (int r = 0; r < 7; r++) {
      assertThat(rows.cosine(r)).isEqualTo(1.0);
    }
    PairStatistics one = backend.pairStatistics(
        TestTensors.plain(arena, "z", dtype, shape, zeros), TestTensors.plain(arena, "z", dtype, shape, other), 0, 7, null);
    assertThat(one.cosine()).isZero();
    assertThat(one.relativeChange()).isEqualTo(Double.POSITIVE_INFINITY);
    assertThat(one.changed()).isEqualTo(Arrays.stream(box(other)).filter(v -> v != 0).count());
    assertSumsClose(one, PairOracle.of(zeros, other));
  }

  @ParameterizedTest
  @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
  void identicalTensorsHaveNothingChanged(DType dtype) {
    long[] shape = {65, 1023};
    float[] a = TestTensors.random(dtype, 65 * 1023, 0.05, 6);
    RowStatistics rows = new RowStatistics(65);
    PairStatistics s = backend.pairStatistics(
        TestTensors.plain(arena, "w", dtype, shape, a), TestTensors.plain(arena, "w", dtype, shape, a.clone()), 0, 65, rows);
    assertThat(s.changed()).isZero();
    assertThat(s.diffSquares()).isZero();
    assertThat(s.maxAbsDiff()).isZero();
    assertThat(s.cosine()).isCloseTo(1.0, within(1e-12));
    assertThat(s.dot()).isCloseTo(oracleDot(a, a), within(relativeTolerance() * s.baseSquares()));
    for (int r = 0; r < 65; r++) {
      assertThat(rows.cosine(r)).isCloseTo(1.0, within(1e-12));
    }
  }

  @ParameterizedTest
  @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
  void negativeZeroAgainstPositiveZeroIsAChange(DType dtype) {
    float[] plus = new float[300];
    float[] minus = new float[300];
    Arrays.fill(minus, -0.0f);
    PairStatistics s = backend.pairStatistics(
        TestTensors.plain(arena, "z", dtype, new long[] {300}, plus), TestTensors.plain(arena, "z", dtype, new long[] {300}, minus), 0, 1, null);
    assertThat(s.changed()).isEqualTo(300);
    assertThat(s.nonFinite()).isZero();
    assertThat(s.maxAbsDiff()).isZero();
    assertThat(s.diffSquares()).isZero();
    assertThat(s.cosine()).isEqualTo(1.0);
  }

  @ParameterizedTest
  @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
  void nonFinitePairsAreLeftOutAndCounted(DType dtype) {
    int rowsCount = 9;
    int columns = 500;
    long[] shape = {rowsCount, columns};
    float[] a = TestTensors.random(dtype, rowsCount * columns, 0.05, 7);
    float[] b = TestTensors.perturb(dtype, a, 0.5, 0.01, 8);
    float[] special = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
    // Row 0 clean, row 1 one NaN in the base, row 2 all kinds in both, row 3 the same NaN in both,
    // row 4 infinities everywhere in the target, the last row an infinity in its last element.
    a[columns + 17] = Float.NaN;
    for (int j = 0; j < columns; j += 7) {
      a[2 * columns + j] = special[j % 3];
      b[2 * columns + j + 3] = special[(j + 1) % 3];
    }
    a[3 * columns + 5] = Float.NaN;
    b[3 * columns + 5] = Float.NaN;
    for (int j = 0; j < columns; j++) {
      b[4 * columns + j] = j % 2 == 0 ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
    }
    a[a.length - 1] = Float.POSITIVE_INFINITY;
    PairStatistics s = checkAgainstOracle(
        TestTensors.plain(arena, "w", dtype, shape, a), TestTensors.plain(arena, "w", dtype, shape, b), a, b);
    assertThat(s.nonFinite()).isEqualTo(1 + 2 * ((columns + 6) / 7) + 1 + columns + 1);
    assertThat(s.dot()).isFinite();
    assertThat(s.maxAbsDiff()).isFinite();
  }

  @Test
  void subnormalsKeepExactCountsAndMaximum() {
    int n = 5000;
    float[] a = TestTensors.random(DType.F32, n, 0.05, 9);
    float[] b = a.clone();
    for (int i = 0; i < n; i += 3) {
      a[i] = Float.intBitsToFloat(1 + i); // subnormal: exponent field 0
      b[i] = Float.intBitsToFloat(1 + i + (i % 5));
    }
    checkAgainstOracle(TestTensors.plain(arena, "s", DType.F32, new long[] {5, 1000}, a),
        TestTensors.plain(arena, "s", DType.F32, new long[] {5, 1000}, b), a, b);

    float[] tinyA = new float[n];
    float[] tinyB = new float[n];
    for (int i = 0; i < n; i++) {
      tinyA[i] = Float.intBitsToFloat(i * 1601 % 0x7fffff);
      tinyB[i] = i % 4 == 0 ? -tinyA[i] : Float.intBitsToFloat(i * 1601 % 0x7fffff + i % 3);
    }
    PairStatistics s = checkAgainstOracle(TestTensors.plain(arena, "s", DType.F32, new long[] {n}, tinyA),
        TestTensors.plain(arena, "s", DType.F32, new long[] {n}, tinyB), tinyA, tinyB);
    assertThat(s.maxAbsDiff()).isGreaterThan(0);
  }

  @Test
  void bf16ExtremesAreSummedWithoutOverflow() {
    short max = 0x7f7f;
    short minSubnormal = 0x0001;
    short minNormal = 0x0080;
    short[] baseBits = new short[3000];
    short[] targetBits = new short[3000];
    short[] kinds = {max, (short) (max | 0x8000), minSubnormal, (short) (minSubnormal | 0x8000), minNormal, 0x3f80, 0x0000};
    for (int i = 0; i < baseBits.length; i++) {
      baseBits[i] = kinds[i % kinds.length];
      // Every third pair moves to the next kind, but never from one sign of the maximum to the
      // other: that difference overflows f32 by the definition of d.
      int k = i % kinds.length;
      int next = (k == 0 || k == 1) ? 5 : (k + 1) % kinds.length;
      targetBits[i] = i % 3 == 0 ? kinds[next] : baseBits[i];
    }
    checkBits(DType.BF16, new long[] {3, 1000}, baseBits, targetBits);
  }

  @Test
  void f16ExtremesMatchTheOracle() {
    short max = 0x7bff; // 65504
    short minSubnormal = 0x0001; // 2^-24
    short maxSubnormal = 0x03ff;
    short[] kinds = {max, (short) (max | 0x8000), minSubnormal, (short) (minSubnormal | 0x8000), maxSubnormal, 0x3c00, 0x0400};
    short[] baseBits = new short[2100];
    short[] targetBits = new short[2100];
    for (int i = 0; i < baseBits.length; i++) {
      baseBits[i] = kinds[i % kinds.length];
      targetBits[i] = i % 2 == 0 ? kinds[(i / 2) % kinds.length] : baseBits[i];
    }
    checkBits(DType.F16, new long[] {2100}, baseBits, targetBits);
  }

  @ParameterizedTest
  @EnumSource(value = DType.class, names = {"F32", "BF16"})
  void rowRangeCoversThoseRowsOnly(DType dtype) {
    int rowsCount = 65;
    int columns = 1023;
    long[] shape = {rowsCount, columns};
    float[] a = TestTensors.random(dtype, rowsCount * columns, 0.05, 10);
    float[] b = TestTensors.perturb(dtype, a, 0.3, 0.01, 11);
    TensorView va = TestTensors.plain(arena, "w", dtype, shape, a);
    TensorView vb = TestTensors.plain(arena, "w", dtype, shape, b);
    RowStatistics rows = new RowStatistics(rowsCount);
    for (int r = 0; r < rowsCount; r++) {
      rows.set(r, Double.NaN, Double.NaN, Double.NaN);
    }
    PairStatistics s = backend.pairStatistics(va, vb, 10, 37, rows);
    assertMatches(s, PairOracle.of(a, b, 10 * columns, 37 * columns));
    for (int r = 0; r < rowsCount; r++) {
      if (r >= 10 && r < 37) {
        assertRowMatches(rows, r, PairOracle.of(a, b, r * columns, (r + 1) * columns));
      } else {
        assertThat(rows.dot(r)).as("row %d outside the range", r).isNaN();
        assertThat(rows.baseSquares(r)).isNaN();
        assertThat(rows.targetSquares(r)).isNaN();
      }
    }
    PairStatistics empty = backend.pairStatistics(va, vb, 5, 5, rows);
    assertThat(empty.count()).isZero();
    assertThat(empty.baseSquares()).isZero();
    assertThat(rows.dot(5)).isNaN();
  }

  @Test
  void rowCosinesHaveTheirClosedForms() {
    int rowsCount = 4;
    int columns = 5000;
    float[] a = TestTensors.random(DType.F32, rowsCount * columns, 1, 12);
    float[] b = new float[a.length];
    for (int j = 0; j < columns; j++) {
      b[j] = 2 * a[j]; // cosine 1
      b[columns + j] = -a[columns + j]; // cosine -1
      b[2 * columns + j] = j % 2 == 0 ? a[2 * columns + j] : 0; // cosine sqrt(sum_even a^2 / sum a^2)
      b[3 * columns + j] = 0; // cosine 0
    }
    RowStatistics rows = new RowStatistics(rowsCount);
    backend.pairStatistics(TestTensors.plain(arena, "w", DType.F32, new long[] {rowsCount, columns}, a),
        TestTensors.plain(arena, "w", DType.F32, new long[] {rowsCount, columns}, b), 0, rowsCount, rows);
    double even = 0;
    double all = 0;
    for (int j = 0; j < columns; j++) {
      double v = a[2 * columns + j];
      all += v * v;
      even += j % 2 == 0 ? v * v : 0;
    }
    assertThat(rows.cosine(0)).isCloseTo(1, within(1e-6));
    assertThat(rows.cosine(1)).isCloseTo(-1, within(1e-6));
    assertThat(rows.cosine(2)).isCloseTo(Math.sqrt(even / all), within(1e-6));
    assertThat(rows.cosine(3)).isZero();
    assertThat(rows.sortedCosines()[0]).isCloseTo(-1, within(1e-6));
  }

  @Test
  void transposedStorageIsReadInLogicalOrder() {
    int rowsCount = 37;
    int columns = 129;
    float[] a = TestTensors.random(DType.F32, rowsCount * columns, 0.05, 13);
    float[] b = TestTensors.perturb(DType.F32, a, 0.4, 0.01, 14);
    long[] shape = {rowsCount, columns};
    TensorView plainA = TestTensors.plain(arena, "w", DType.F32, shape, a);
    TensorView plainB = TestTensors.plain(arena, "w", DType.F32, shape, b);
    TensorView tA = TestTensors.transposed(arena, "w", DType.F32, rowsCount, columns, a);
    TensorView tB = TestTensors.transposed(arena, "w", DType.F32, rowsCount, columns, b);
    checkAgainstOracle(tA, plainB, a, b);
    checkAgainstOracle(plainA, tB, a, b);
    checkAgainstOracle(tA, tB, a, b);

    float[] c = TestTensors.perturb(DType.BF16, a, 1, 0.01, 15);
    checkAgainstOracle(TestTensors.transposed(arena, "w", DType.BF16, rowsCount, columns, c), plainA, c, a);

    float[] wide = TestTensors.random(DType.F32, 2 * 70000, 0.05, 16);
    float[] wideB = TestTensors.perturb(DType.F32, wide, 0.2, 0.01, 17);
    checkAgainstOracle(TestTensors.transposed(arena, "w", DType.F32, 2, 70000, wide),
        TestTensors.plain(arena, "w", DType.F32, new long[] {2, 70000}, wideB), wide, wideB);
    float[] tall = TestTensors.random(DType.F32, 70000, 0.05, 18);
    float[] tallB = TestTensors.perturb(DType.F32, tall, 0.2, 0.01, 19);
    checkAgainstOracle(TestTensors.transposed(arena, "w", DType.F32, 70000, 1, tall),
        TestTensors.transposed(arena, "w", DType.F32, 70000, 1, tallB), tall, tallB);
  }

  @Test
  void quantizedViewsAreReadThroughTheView() {
    int rowsCount = 16;
    int columns = 40;
    byte[] q = new byte[rowsCount * columns];
    float[] scales = new float[rowsCount];
    int[] zeroPoints = new int[rowsCount];
    for (int r = 0; r < rowsCount; r++) {
      scales[r] = 0.01f * (r + 1);
      zeroPoints[r] = r - 8;
    }
    float[] real = new float[q.length];
    for (int i = 0; i < q.length; i++) {
      q[i] = (byte) ((i * 37) % 251 - 125);
      real[i] = TestTensors.dequantize(q[i], scales[i / columns], zeroPoints[i / columns]);
    }
    long[] shape = {rowsCount, columns};
    float[] target = TestTensors.perturb(DType.F32, real, 0.5, 0.02, 20);
    checkAgainstOracle(TestTensors.quantized(arena, "q", shape, q, scales, zeroPoints),
        TestTensors.plain(arena, "q", DType.F32, shape, target), real, target);
    float[] rounded = TestTensors.perturb(DType.BF16, real, 0, 0, 21);
    checkAgainstOracle(TestTensors.plain(arena, "q", DType.BF16, shape, rounded),
        TestTensors.quantized(arena, "q", shape, q, scales, zeroPoints), rounded, real);
  }

  static Stream<Arguments> integerPairs() {
    return Stream.of(
        Arguments.of(DType.I32, DType.I16),
        Arguments.of(DType.U8, DType.I8),
        Arguments.of(DType.I64, DType.F64),
        Arguments.of(DType.U16, DType.F32),
        Arguments.of(DType.BOOL, DType.U32));
  }

  @ParameterizedTest(name = "{0} vs {1}")
  @MethodSource("integerPairs")
  void integerDtypesCompareTheirNumericValues(DType left, DType right) {
    int rowsCount = 6;
    int columns = 4500;
    float[] a = new float[rowsCount * columns];
    float[] b = new float[a.length];
    for (int i = 0; i < a.length; i++) {
      a[i] = valueFor(left, i, 0);
      b[i] = valueFor(right, i, i % 3 == 0 ? 1 : 0);
    }
    long[] shape = {rowsCount, columns};
    checkAgainstOracle(TestTensors.plain(arena, "i", left, shape, a), TestTensors.plain(arena, "i", right, shape, b), a, b);
  }

  @Test
  void scalarsAndEmptyTensors() {
    PairStatistics scalar = backend.pairStatistics(TestTensors.plain(arena, "s", DType.F32, new long[0], new float[] {3}),
        TestTensors.plain(arena, "s", DType.BF16, new long[0], new float[] {-2}), 0, 1, null);
    assertThat(scalar.count()).isEqualTo(1);
    assertThat(scalar.dot()).isEqualTo(-6);
    assertThat(scalar.diffSquares()).isEqualTo(25);
    assertThat(scalar.maxAbsDiff()).isEqualTo(5);
    assertThat(scalar.changed()).isEqualTo(1);

    TensorView empty = TestTensors.plain(arena, "e", DType.F16, new long[] {0, 8}, new float[0]);
    PairStatistics none = backend.pairStatistics(empty, empty, 0, 0, new RowStatistics(0));
    assertThat(none.count()).isZero();
    assertThat(none.cosine()).isEqualTo(1);
    TensorView noColumns = TestTensors.plain(arena, "e", DType.F32, new long[] {3, 0}, new float[0]);
    RowStatistics rows = new RowStatistics(3);
    PairStatistics zeroWide = backend.pairStatistics(noColumns, noColumns, 0, 3, rows);
    assertThat(zeroWide.count()).isZero();
    assertThat(rows.cosine(2)).isEqualTo(1);
  }

  @Test
  void disjointRowRangesFromSeveralThreadsAddUp() throws Exception {
    int rowsCount = 65;
    int columns = 1023;
    long[] shape = {rowsCount, columns};
    float[] a = TestTensors.random(DType.BF16, rowsCount * columns, 0.05, 22);
    float[] b = TestTensors.perturb(DType.BF16, a, 0.3, 0.01, 23);
    try (Arena shared = Arena.ofShared(); ExecutorService pool = Executors.newFixedThreadPool(4)) {
      TensorView va = TestTensors.plain(shared, "w", DType.BF16, shape, a);
      TensorView vb = TestTensors.plain(shared, "w", DType.BF16, shape, b);
      RowStatistics rows = new RowStatistics(rowsCount);
      List<Future<PairStatistics>> parts = new ArrayList<>();
      for (int from = 0; from < rowsCount; from += 9) {
        long f = from;
        long t = Math.min(rowsCount, from + 9);
        parts.add(pool.submit(() -> backend.pairStatistics(va, vb, f, t, rows)));
      }
      PairStatistics total = PairStatistics.EMPTY;
      for (Future<PairStatistics> p : parts) {
        total = total.merge(p.get());
      }
      assertMatches(total, PairOracle.of(a, b));
      for (int r = 0; r < rowsCount; r++) {
        assertRowMatches(rows, r, PairOracle.of(a, b, r * columns, (r + 1) * columns));
      }
    }
  }

  @Test
  void badArgumentsAreRejected() {
    TensorView a = TestTensors.plain(arena, "model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {3, 4}, new float[12]);
    TensorView b = TestTensors.plain(arena, "model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {4, 3}, new float[12]);
    assertThatThrownBy(() -> backend.pairStatistics(a, b, 0, 3, null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("model.layers.0.mlp.up_proj.weight")
        .hasMessageContaining("[3, 4]")
        .hasMessageContaining("[4, 3]");
    assertThatThrownBy(() -> backend.pairStatistics(a, a, 0, 4, null)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> backend.pairStatistics(a, a, -1, 2, null)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> backend.pairStatistics(a, a, 2, 1, null)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> backend.pairStatistics(a, a, 0, 3, new RowStatistics(2))).isInstanceOf(IllegalArgumentException.class);
  }

  // ---- helpers

  private PairStatistics checkAgainstOracle(TensorView base, TensorView target, float[] a, float[] b) {
    int rowsCount = (int) base.rows();
    int columns = (int) base.columns();
    RowStatistics rows = new RowStatistics(rowsCount);
    PairStatistics s = backend.pairStatistics(base, target, 0, rowsCount, rows);
    PairOracle expected = PairOracle.of(a, b);
    assertMatches(s, expected);
    assertThat(s.rowStatistics()).isEmpty();
    for (int r = 0; r < rowsCount; r++) {
      assertRowMatches(rows, r, PairOracle.of(a, b, r * columns, (r + 1) * columns));
    }
    // Cosine is checked where the sums are far from the f32 range's ends.
    if (expected.nonFinite() == 0 && expected.baseSquares() > 1e-30 && expected.targetSquares() > 1e-30
        && expected.baseSquares() < 1e30 && expected.targetSquares() < 1e30) {
      double cosine = new ArrayRealVector(toDouble(a)).cosine(new ArrayRealVector(toDouble(b)));
      assertThat(s.cosine()).as("cosine").isCloseTo(cosine, within(10 * relativeTolerance()));
    }
    return s;
  }

  private void checkBits(DType dtype, long[] shape, short[] baseBits, short[] targetBits) {
    float[] a = new float[baseBits.length];
    float[] b = new float[targetBits.length];
    for (int i = 0; i < a.length; i++) {
      a[i] = TestTensors.decode16(dtype, baseBits[i]);
      b[i] = TestTensors.decode16(dtype, targetBits[i]);
    }
    checkAgainstOracle(TestTensors.plainBits(arena, "x", dtype, shape, baseBits),
        TestTensors.plainBits(arena, "x", dtype, shape, targetBits), a, b);
  }

  private void assertMatches(PairStatistics s, PairOracle e) {
    assertThat(s.count()).as("count").isEqualTo(e.count());
    assertThat(s.changed()).as("changed").isEqualTo(e.changed());
    assertThat(s.nonFinite()).as("nonFinite").isEqualTo(e.nonFinite());
    assertThat(s.maxAbsDiff()).as("maxAbsDiff").isEqualTo(e.maxAbsDiff());
    assertSumsClose(s, e);
  }

  private void assertSumsClose(PairStatistics s, PairOracle e) {
    double floor = e.count() * SUBNORMAL_LOSS;
    double tol = relativeTolerance();
    assertThat(s.baseSquares()).as("baseSquares").isCloseTo(e.baseSquares(), within(tol * e.baseSquares() + floor));
    assertThat(s.targetSquares()).as("targetSquares").isCloseTo(e.targetSquares(), within(tol * e.targetSquares() + floor));
    assertThat(s.diffSquares()).as("diffSquares").isCloseTo(e.diffSquares(), within(tol * e.diffSquares() + floor));
    double scale = Math.sqrt(e.baseSquares()) * Math.sqrt(e.targetSquares());
    assertThat(s.dot()).as("dot").isCloseTo(e.dot(), within(tol * scale + floor));
  }

  private void assertRowMatches(RowStatistics rows, int r, PairOracle e) {
    double floor = e.count() * SUBNORMAL_LOSS;
    double tol = relativeTolerance();
    assertThat(rows.baseSquares(r)).as("row %d baseSquares", r).isCloseTo(e.baseSquares(), within(tol * e.baseSquares() + floor));
    assertThat(rows.targetSquares(r)).as("row %d targetSquares", r).isCloseTo(e.targetSquares(), within(tol * e.targetSquares() + floor));
    double scale = Math.sqrt(e.baseSquares()) * Math.sqrt(e.targetSquares());
    assertThat(rows.dot(r)).as("row %d dot", r).isCloseTo(e.dot(), within(tol * scale + floor));
  }

  private static double oracleDot(float[] a, float[] b) {
    return PairOracle.of(a, b).dot();
  }

  private static float valueFor(DType t, int i, int shift) {
    long v = switch (t) {
      case BOOL -> (i + shift) % 2;
      case U8 -> (i * 7L + shift) % 256;
      case I8 -> (i * 7L + shift) % 256 - 128;
      case U16 -> (i * 131L + shift) % 65536;
      case I16 -> (i * 131L + shift) % 65536 - 32768;
      case U32 -> (i * 1_000_003L + shift) % 4_000_000;
      default -> (i * 1_000_003L + shift) % 4_000_000 - 2_000_000;
    };
    return v;
  }

  private static double[] toDouble(float[] v) {
    double[] d = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      d[i] = v[i];
    }
    return d;
  }

  private static Float[] box(float[] v) {
    Float[] b = new Float[v.length];
    for (int i = 0; i < v.length; i++) {
      b[i] = v[i];
    }
    return b;
  }
}
