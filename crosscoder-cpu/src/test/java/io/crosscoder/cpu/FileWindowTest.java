package io.crosscoder.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.InvalidInputException;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.metric.RowStatistics;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.Elements;
import io.crosscoder.tensor.FileRegion;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The pair pass reading large views from their files with positional reads ({@link FileWindow})
 * against the same pass reading the mapping: the same bytes cut into the same blocks, so every
 * statistic must agree bit for bit, on both kernels, each dtype, whole tensors and row ranges that
 * start and end mid-buffer. An f64 loop over the decoded values checks the sums themselves. Then
 * the failures: a file truncated after it was opened (the error names the file and the tensor), and
 * a file replaced by another (the mapping, which still shows the old one, is read instead).
 */
class FileWindowTest {
  /** 5000 columns: a full block and a partial one per row; 300 rows: 1.5 M elements, many buffers. */
  private static final int ROWS = 300;
  private static final int COLUMNS = 5000;
  /** Bytes before the tensor in its file, so that regions start off any alignment. */
  private static final int HEADER = 24 + 2;

  @TempDir Path dir;

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (String kernel : new String[] {"scalar", "vector"}) {
      for (DType dtype : new DType[] {DType.BF16, DType.F16, DType.F32}) {
        out.add(Arguments.of(kernel, dtype));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void windowAgreesWithTheMappingAndWithF64(String kernelName, DType dtype) throws IOException {
    CpuBackend backend = backend(kernelName);
    Path a = write("base.bin", dtype, 1, 0f);
    Path b = write("target.bin", dtype, 1, 0.05f);
    try (Arena arena = Arena.ofShared()) {
      TensorView[] mapped = {view(arena, a, dtype, false), view(arena, b, dtype, false)};
      TensorView[] read = {view(arena, a, dtype, true), view(arena, b, dtype, true)};
      assertThat(read[0].fileRegion()).isPresent();
      for (long[] range : new long[][] {{0, ROWS}, {37, 251}, {299, 300}}) {
        RowStatistics rowsMapped = new RowStatistics(ROWS);
        RowStatistics rowsRead = new RowStatistics(ROWS);
        PairStatistics m = backend.pairStatistics(mapped[0], mapped[1], range[0], range[1], rowsMapped);
        long opened = FileWindow.OPENED.sum();
        PairStatistics r = backend.pairStatistics(read[0], read[1], range[0], range[1], rowsRead);
        assertThat(FileWindow.OPENED.sum() - opened).as("both sides read through the window").isEqualTo(2);
        assertThat(r.withRows(null)).isEqualTo(m.withRows(null));
        for (int row = (int) range[0]; row < range[1]; row++) {
          assertThat(rowsRead.dot(row)).isEqualTo(rowsMapped.dot(row));
          assertThat(rowsRead.baseSquares(row)).isEqualTo(rowsMapped.baseSquares(row));
          assertThat(rowsRead.targetSquares(row)).isEqualTo(rowsMapped.targetSquares(row));
        }
        // The sums against a plain f64 loop over the decoded values.
        double dot = 0;
        double diff = 0;
        double max = 0;
        float[] x = new float[COLUMNS];
        float[] y = new float[COLUMNS];
        for (long row = range[0]; row < range[1]; row++) {
          Elements.decode(dtype, mapped[0].data(), row * COLUMNS, x, 0, COLUMNS);
          Elements.decode(dtype, mapped[1].data(), row * COLUMNS, y, 0, COLUMNS);
          for (int j = 0; j < COLUMNS; j++) {
            dot += (double) x[j] * y[j];
            double d = (double) y[j] - x[j];
            diff += d * d;
            max = Math.max(max, Math.abs(d));
          }
        }
        assertThat(r.count()).isEqualTo((range[1] - range[0]) * COLUMNS);
        assertThat(r.dot()).isCloseTo(dot, within(1e-6 * Math.abs(dot)));
        assertThat(r.diffSquares()).isCloseTo(diff, within(1e-6 * diff));
        assertThat(r.maxAbsDiff()).isCloseTo(max, within(1e-6 * max));
      }
    }
  }

  /**
   * A large pass and a small one (two rows): the kernel is compiled by C2 by the time the second
   * runs, and a C2 vector load from a truncated mapping would end the process with SIGBUS.
   */
  @ParameterizedTest(name = "{0} rows")
  @org.junit.jupiter.params.provider.ValueSource(ints = {ROWS, 2})
  void aFileTruncatedAfterOpeningIsNamedWithItsTensor(int rows) throws IOException {
    CpuBackend backend = backend("vector");
    for (int warm = 0; warm < 20; warm++) {
      try (Arena arena = Arena.ofShared()) {
        TensorView[] pair = bf16Pair(arena);
        backend.pairStatistics(pair[0], pair[1], 0, ROWS, null);
      }
    }
    try (Arena arena = Arena.ofShared()) {
      TensorView[] pair = bf16Pair(arena);
      Path b = pair[1].source();
      // Half the target's data (bf16: 2 bytes an element), or all but its first row, after it was mapped.
      try (RandomAccessFile f = new RandomAccessFile(b.toFile(), "rw")) {
        f.setLength(HEADER + (rows == ROWS ? (long) ROWS * COLUMNS : 2L * COLUMNS));
      }
      assertThatThrownBy(() -> backend.pairStatistics(pair[0], pair[1], 0, rows, null))
          .isInstanceOf(InvalidInputException.class)
          .hasMessageContaining(b.toString())
          .hasMessageContaining("weight")
          .hasMessageContaining("changed while being read");
    }
  }

  /**
   * NaN and infinities (the blocks that hold them are recomputed exactly, from the window's
   * buffer), zero rows, and a BF16 base against an F32 target, whose windows refill at different
   * elements: the same statistics as through the mapping.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("kernels")
  void specialValuesAndMixedTypesAgreeWithTheMapping(String kernelName) throws IOException {
    CpuBackend backend = backend(kernelName);
    Path a = write("base.bin", DType.BF16, 3, 0f, true);
    Path b = write("target.bin", DType.F32, 4, 0.05f, true);
    try (Arena arena = Arena.ofShared()) {
      TensorView[] mapped = {view(arena, a, DType.BF16, false), view(arena, b, DType.F32, false)};
      TensorView[] read = {view(arena, a, DType.BF16, true), view(arena, b, DType.F32, true)};
      for (long[] range : new long[][] {{0, ROWS}, {61, 233}}) {
        PairStatistics m = backend.pairStatistics(mapped[0], mapped[1], range[0], range[1], null);
        long opened = FileWindow.OPENED.sum();
        PairStatistics r = backend.pairStatistics(read[0], read[1], range[0], range[1], null);
        assertThat(FileWindow.OPENED.sum() - opened).isEqualTo(2);
        assertThat(r.nonFinite()).isPositive();
        assertThat(r).isEqualTo(m);
      }
    }
  }

  static Stream<String> kernels() {
    return Stream.of("scalar", "vector");
  }

  @Test
  void anInterruptedPassIsNotBlamedOnTheFile() throws IOException {
    CpuBackend backend = backend("vector");
    try (Arena arena = Arena.ofShared()) {
      TensorView[] pair = bf16Pair(arena);
      Thread.currentThread().interrupt();
      try {
        assertThatThrownBy(() -> backend.pairStatistics(pair[0], pair[1], 0, ROWS, null))
            .isExactlyInstanceOf(io.crosscoder.CrosscoderException.class)
            .hasMessageContaining("interrupted while reading");
        assertThat(Thread.currentThread().isInterrupted()).isTrue();
      } finally {
        Thread.interrupted();
      }
      // The next pass, on a fresh channel, reads on.
      assertThat(backend.pairStatistics(pair[0], pair[1], 0, ROWS, null).count()).isEqualTo((long) ROWS * COLUMNS);
    }
  }

  @Test
  void aClosedCheckpointFailsAsThroughTheMapping() throws IOException {
    CpuBackend backend = backend("vector");
    Arena arena = Arena.ofShared();
    TensorView[] pair = bf16Pair(arena);
    arena.close();
    assertThatThrownBy(() -> backend.pairStatistics(pair[0], pair[1], 0, ROWS, null))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void aReplacedFileIsReadThroughTheMapping() throws IOException {
    CpuBackend backend = backend("vector");
    try (Arena arena = Arena.ofShared()) {
      TensorView[] pair = bf16Pair(arena);
      TensorView base = pair[0];
      TensorView target = pair[1];
      Path b = target.source();
      PairStatistics before = backend.pairStatistics(base, target, 0, ROWS, null);
      // Another file under the same name: the views still map the first one.
      Path replacement = write("replacement.bin", DType.BF16, 2, 0.5f);
      Files.move(replacement, b, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      assertThat(target.fileRegion().orElseThrow().sameFile()).isFalse();
      assertThat(backend.pairStatistics(base, target, 0, ROWS, null)).isEqualTo(before);
    }
  }

  /** A BF16 base and target written to files and viewed with their regions. */
  private TensorView[] bf16Pair(Arena arena) throws IOException {
    Path a = write("base.bin", DType.BF16, 1, 0f);
    Path b = write("target.bin", DType.BF16, 1, 0.05f);
    return new TensorView[] {view(arena, a, DType.BF16, true), view(arena, b, DType.BF16, true)};
  }

  private static CpuBackend backend(String kernel) {
    Vectorization.Probe probe = Vectorization.probe();
    if (kernel.equals("vector")) {
      org.junit.jupiter.api.Assumptions.assumeTrue(probe.vector().isPresent(), probe::whyNot);
      return new CpuBackend(probe.vector().orElseThrow());
    }
    return new CpuBackend(new ScalarPairKernel(probe.lanes(), "test"));
  }

  /** A file of HEADER bytes of 0x7f and then ROWS x COLUMNS values: seeded noise, plus shift on every 7th. */
  private Path write(String name, DType dtype, long seed, float shift) throws IOException {
    return write(name, dtype, seed, shift, false);
  }

  /** As above; with {@code specials}, NaN every 997th element, +-infinity every 1009th, and row 5 all zeros. */
  private Path write(String name, DType dtype, long seed, float shift, boolean specials) throws IOException {
    Random random = new Random(seed);
    long n = (long) ROWS * COLUMNS;
    ByteBuffer bytes = ByteBuffer.allocate((int) (HEADER + n * dtype.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < HEADER; i++) {
      bytes.put((byte) 0x7f);
    }
    for (long i = 0; i < n; i++) {
      float v = (float) random.nextGaussian() * 0.02f + (i % 7 == 0 ? shift : 0f);
      if (specials) {
        v = i % 997 == 0 ? Float.NaN : i % 1009 == 0 ? (i % 2 == 0 ? 1f : -1f) / 0f : i / COLUMNS == 5 ? 0f : v;
      }
      switch (dtype) {
        case F32 -> bytes.putFloat(v);
        case F16 -> bytes.putShort(Float.floatToFloat16(v));
        default -> bytes.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
      }
    }
    Path file = dir.resolve(name);
    Files.write(file, bytes.array());
    return file;
  }

  private static TensorView view(Arena arena, Path file, DType dtype, boolean withRegion) throws IOException {
    long[] shape = {ROWS, COLUMNS};
    long bytes = (long) ROWS * COLUMNS * dtype.byteSize();
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      MemorySegment data = channel.map(FileChannel.MapMode.READ_ONLY, HEADER, bytes, arena);
      if (!withRegion) {
        return TensorView.of("model.layers.0.mlp.weight", dtype, shape, data, file);
      }
      FileRegion region = new FileRegion(file, HEADER, FileRegion.keyOf(file));
      return TensorView.mapped("model.layers.0.mlp.weight", dtype, shape, data, region);
    }
  }
}
