package io.crosscoder.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.crosscoder.backend.TestTensors;
import io.crosscoder.cpu.kernels.SegmentClasses;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.metric.RowStatistics;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The vector and the scalar kernel, given the same lane count, perform the same f32 operations
 * on every lane in the same order, so their results must be equal bit for bit (not merely close)
 * on every path: plain segments of any dtype mix, blocks recomputed exactly, and the generic path.
 */
class VectorScalarAgreementTest {
  private CpuBackend vector;
  private CpuBackend scalar;
  private Arena arena;

  @BeforeEach
  void open() {
    Vectorization.Probe probe = Vectorization.probe();
    assumeTrue(probe.vector().isPresent(), () -> "Vector API path unavailable: " + probe.whyNot());
    vector = new CpuBackend(probe.vector().orElseThrow());
    scalar = new CpuBackend(new ScalarPairKernel(probe.lanes(), "test"));
    arena = Arena.ofConfined();
  }

  @AfterEach
  void close() {
    if (arena != null) {
      arena.close();
    }
  }

  static Stream<Arguments> pairs() {
    DType[] types = {DType.F32, DType.F16, DType.BF16};
    long[][] shapes = {{1, 1}, {3, 17}, {65, 1023}, {70000}, {5, 4097}, {31, 64}};
    List<Arguments> args = new ArrayList<>();
    for (DType a : types) {
      for (DType b : types) {
        for (long[] s : shapes) {
          args.add(Arguments.of(a, b, s));
        }
      }
    }
    return args.stream();
  }

  @ParameterizedTest(name = "{0} vs {1} {2}")
  @MethodSource("pairs")
  void plainTensorsGiveIdenticalSums(DType a, DType b, long[] shape) {
    int n = Math.toIntExact(TensorView.of("x", DType.U8, shape, arena.allocate(count(shape)), null).elementCount());
    float[] x = TestTensors.random(a, n, 0.05, n + a.ordinal());
    float[] y = TestTensors.perturb(b, x, 0.4, 0.01, n + 7 * b.ordinal());
    assertSame(TestTensors.plain(arena, "x", a, shape, x), TestTensors.plain(arena, "y", b, shape, y));
  }

  @Test
  void blocksWithNonFiniteValuesOrF32OverflowAgree() {
    int n = 3 * 9000;
    float[] x = TestTensors.random(DType.F32, n, 1, 31);
    float[] y = TestTensors.perturb(DType.F32, x, 0.5, 0.1, 32);
    SplittableRandom random = new SplittableRandom(33);
    for (int k = 0; k < 40; k++) {
      x[random.nextInt(n)] = Float.NaN;
      y[random.nextInt(n)] = Float.NEGATIVE_INFINITY;
      y[random.nextInt(n)] = 3e30f;
    }
    long[] shape = {3, 9000};
    assertSame(TestTensors.plain(arena, "x", DType.F32, shape, x), TestTensors.plain(arena, "y", DType.F32, shape, y));
  }

  @Test
  void theGenericPathAgrees() {
    int rows = 40;
    int columns = 300;
    float[] x = TestTensors.random(DType.F32, rows * columns, 0.05, 41);
    float[] y = TestTensors.perturb(DType.F32, x, 0.4, 0.01, 42);
    float[] ints = new float[rows * columns];
    for (int i = 0; i < ints.length; i++) {
      ints[i] = (i * 7) % 255 - 127;
    }
    long[] shape = {rows, columns};
    assertSame(TestTensors.transposed(arena, "x", DType.F32, rows, columns, x), TestTensors.plain(arena, "y", DType.BF16, shape,
        TestTensors.perturb(DType.BF16, y, 0, 0, 43)));
    assertSame(TestTensors.plain(arena, "x", DType.I8, shape, ints), TestTensors.plain(arena, "y", DType.F32, shape, y));
  }

  /**
   * The same-type loops run on native segments only (cast to the JDK's native class, see {@link
   * VectorPairKernel#NATIVE}); heap segments are widened into arrays first. Both paths, and a
   * mapped file, which must be of the native class or every real diff would take the slower path.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("sameTypes")
  void heapAndMappedSegmentsAgree(DType type, @TempDir Path dir) throws IOException {
    long[] shape = {7, 4100};
    int n = 7 * 4100;
    float[] x = TestTensors.random(type, n, 0.05, 51 + type.ordinal());
    float[] y = TestTensors.perturb(type, x, 0.4, 0.01, 52 + type.ordinal());
    TensorView nativeX = TestTensors.plain(arena, "x", type, shape, x);
    TensorView nativeY = TestTensors.plain(arena, "y", type, shape, y);
    assertSame(nativeX, nativeY);

    TensorView heapX = TensorView.of("x", type, shape, onHeap(nativeX), null);
    TensorView heapY = TensorView.of("y", type, shape, onHeap(nativeY), null);
    assertThat(SegmentClasses.NATIVE.isInstance(heapX.data())).isFalse();
    assertSame(heapX, heapY);
    assertThat(vector.pairStatistics(heapX, heapY, 0, 7, null)).isEqualTo(vector.pairStatistics(nativeX, nativeY, 0, 7, null));

    Path file = dir.resolve("pair.bin");
    long bytes = nativeX.data().byteSize();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      MemorySegment mapped = ch.map(FileChannel.MapMode.READ_WRITE, 0, 2 * bytes, arena);
      MemorySegment.copy(nativeX.data(), 0, mapped, 0, bytes);
      MemorySegment.copy(nativeY.data(), 0, mapped, bytes, bytes);
      assertThat(SegmentClasses.NATIVE.isInstance(mapped)).as(mapped.getClass().getName()).isTrue();
      TensorView mappedX = TensorView.of("x", type, shape, mapped.asSlice(0, bytes), null);
      TensorView mappedY = TensorView.of("y", type, shape, mapped.asSlice(bytes, bytes), null);
      assertSame(mappedX, mappedY);
      assertThat(vector.pairStatistics(mappedX, mappedY, 0, 7, null)).isEqualTo(vector.pairStatistics(nativeX, nativeY, 0, 7, null));
    }
  }

  static Stream<DType> sameTypes() {
    return Stream.of(DType.F32, DType.F16, DType.BF16);
  }

  private static MemorySegment onHeap(TensorView view) {
    byte[] copy = view.data().toArray(ValueLayout.JAVA_BYTE);
    return MemorySegment.ofArray(copy);
  }

  private void assertSame(TensorView a, TensorView b) {
    int rows = (int) a.rows();
    RowStatistics vr = new RowStatistics(rows);
    RowStatistics sr = new RowStatistics(rows);
    PairStatistics v = vector.pairStatistics(a, b, 0, rows, vr);
    PairStatistics s = scalar.pairStatistics(a, b, 0, rows, sr);
    assertThat(v).isEqualTo(s);
    for (int r = 0; r < rows; r++) {
      assertThat(new double[] {vr.dot(r), vr.baseSquares(r), vr.targetSquares(r)})
          .as("row %d", r)
          .containsExactly(sr.dot(r), sr.baseSquares(r), sr.targetSquares(r));
    }
  }

  private static long count(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }
}
