package io.crosscoder.bench;

import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.BackendOptions;
import io.crosscoder.backend.ComputeBackendProvider;
import io.crosscoder.cpu.CpuBackendProvider;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.FloatFormats;
import io.crosscoder.tensor.TensorView;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The CPU backend's fused pair pass ({@code pairStatistics} over a whole tensor pair, one thread)
 * in its scalar and its Vector API form, side by side with a baseline that only reads both
 * tensors' bytes ({@link #plainRead}: the sum of their 64-bit words). All three report, besides
 * operations per second, a {@code bytes} counter whose rate is the input read per second (both
 * tensors), so the kernels can be read as a fraction of plain read bandwidth measured in the same
 * run.
 *
 * <p>{@code shape} is {@code rows x columns}; odd sizes exercise row tails. {@code dtype} is the
 * element type of both tensors, or {@code BASE_TARGET} for a mix (for example {@code F32_BF16}).
 * Run: {@code java -jar benchmarks/target/benchmarks.jar PairStatisticsBenchmark}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Benchmark)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
public class PairStatisticsBenchmark {
  private static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  @Param({"BF16", "F32"})
  public String dtype;

  @Param({"64x1023", "1536x1537", "1x1000003"})
  public String shape;

  private Arena arena;
  private TensorView base;
  private TensorView target;
  private long rows;
  private long bytes;
  private ComputeBackend scalar;
  private ComputeBackend vector;

  /** Input bytes read per operation; its rate is the throughput in bytes per second. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  public static class Traffic {
    public long bytes;
  }

  @Setup(Level.Trial)
  public void setUp() {
    String[] dims = shape.split("x");
    long[] s = {Long.parseLong(dims[0]), Long.parseLong(dims[1])};
    String[] types = dtype.split("_");
    DType baseType = DType.valueOf(types[0]);
    DType targetType = DType.valueOf(types[types.length - 1]);
    int n = Math.toIntExact(s[0] * s[1]);
    arena = Arena.ofShared();
    SplittableRandom random = new SplittableRandom(42);
    float[] a = new float[n];
    float[] b = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (random.nextDouble(-1, 1) * 0.05);
      b[i] = random.nextInt(4) == 0 ? a[i] + (float) (random.nextDouble(-1, 1) * 0.001) : a[i];
    }
    base = TensorView.of("base", baseType, s, encode(baseType, a), null);
    target = TensorView.of("target", targetType, s, encode(targetType, b), null);
    rows = s[0];
    bytes = base.data().byteSize() + target.data().byteSize();

    ComputeBackendProvider provider = new CpuBackendProvider();
    scalar = provider.create(BackendOptions.builder().vectorApi(false).build());
    vector = provider.create(BackendOptions.builder().vectorApi(true).build());
    if (!vector.description().contains("Vector API")) {
      throw new IllegalStateException("the vector path is not available in this JVM: " + vector.description());
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    scalar.close();
    vector.close();
    arena.close();
  }

  /** Baseline: reads every byte of both tensors once, as 64-bit words plus a byte tail, and sums them. */
  @Benchmark
  public long plainRead(Traffic traffic) {
    traffic.bytes += bytes;
    return sumWords(base.data()) + sumWords(target.data());
  }

  @Benchmark
  public PairStatistics scalar(Traffic traffic) {
    traffic.bytes += bytes;
    return scalar.pairStatistics(base, target, 0, rows, null);
  }

  @Benchmark
  public PairStatistics vector(Traffic traffic) {
    traffic.bytes += bytes;
    return vector.pairStatistics(base, target, 0, rows, null);
  }

  /** Four independent sums, so the baseline is bound by reading, not by one chain of adds. */
  private static long sumWords(MemorySegment m) {
    long size = m.byteSize();
    long blocks = size & ~31L;
    long s0 = 0;
    long s1 = 0;
    long s2 = 0;
    long s3 = 0;
    for (long at = 0; at < blocks; at += 32) {
      s0 += m.get(WORD, at);
      s1 += m.get(WORD, at + 8);
      s2 += m.get(WORD, at + 16);
      s3 += m.get(WORD, at + 24);
    }
    for (long at = blocks; at < size; at++) {
      s0 += m.get(ValueLayout.JAVA_BYTE, at);
    }
    return (s0 + s1) + (s2 + s3);
  }

  private MemorySegment encode(DType type, float[] v) {
    MemorySegment m = arena.allocate((long) v.length * type.byteSize(), 64);
    for (int i = 0; i < v.length; i++) {
      switch (type) {
        case F32 -> m.set(TensorView.Layouts.F32, 4L * i, v[i]);
        case F16 -> m.set(TensorView.Layouts.I16, 2L * i, FloatFormats.floatToF16(v[i]));
        case BF16 -> m.set(TensorView.Layouts.I16, 2L * i, FloatFormats.floatToBf16(v[i]));
        default -> throw new IllegalArgumentException("benchmark dtype must be F32, F16 or BF16, got " + type);
      }
    }
    return m;
  }
}
