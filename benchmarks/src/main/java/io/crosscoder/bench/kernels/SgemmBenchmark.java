package io.crosscoder.bench.kernels;

import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.cpu.kernels.CpuKernels;
import io.crosscoder.tensor.DType;
import java.util.concurrent.TimeUnit;
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
 * {@code C = A . B} in f32 ({@link io.crosscoder.backend.Kernels#sgemm}, no transposes, beta 0)
 * at shapes below the crosscoder's, with the Java SGEMM (vector and scalar micro-kernels) and
 * OpenBLAS side by side, on 1 and 2 threads. One call per measurement (single shot): the score is
 * seconds per call, and {@code run-kernels.sh} prints {@code 2 m n k / score} as GFLOP/s. The
 * shape parameter is {@code m x k x n}: batch x input width x output width, as for the encoder.
 * The crosscoder's own shape is in {@link SgemmCrosscoderShapeBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
public class SgemmBenchmark {
  /** m x k x n: a quarter-size encoder product, and one with odd tails in every dimension. */
  @Param({"1024x3072x4096", "1001x3001x4099"})
  public String mkn;

  @Param({"vector", "scalar", "openblas"})
  public String impl;

  @Param({"1", "2"})
  public int threads;

  /**
   * Which operands are stored transposed: {@code NN} (the encoder's forward product), {@code TN}
   * ({@code A^T B}, weight gradients such as {@code X^T dF}) or {@code NT} ({@code A B^T}, input
   * gradients such as {@code dF W^T}). Only {@code NN} by default; ask with {@code -p
   * trans=NN,TN,NT}.
   */
  @Param({"NN"})
  public String trans;

  private Gemm gemm;

  @Setup(Level.Trial)
  public void setUp() {
    gemm = new Gemm(mkn, impl, threads, trans);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    gemm.close();
  }

  @Benchmark
  public float sgemm() {
    return gemm.run();
  }

  /** Buffers and kernels for one product, shared with {@link SgemmCrosscoderShapeBenchmark}. */
  static final class Gemm implements AutoCloseable {
    final int m;
    final int k;
    final int n;
    final boolean transA;
    final boolean transB;
    final CpuKernels kernels;
    final DeviceBuffer a;
    final DeviceBuffer b;
    final DeviceBuffer c;
    private final float[] probe = new float[1];

    Gemm(String mkn, String impl, int threads, String trans) {
      String[] d = mkn.split("x");
      m = Integer.parseInt(d[0]);
      k = Integer.parseInt(d[1]);
      n = Integer.parseInt(d[2]);
      transA = trans.charAt(0) == 'T';
      transB = trans.charAt(1) == 'T';
      kernels = BenchKernels.create(impl, threads);
      a = kernels.allocate(DType.F32, (long) m * k);
      b = kernels.allocate(DType.F32, (long) k * n);
      c = kernels.allocate(DType.F32, (long) m * n);
      BenchKernels.fillUniform(kernels, a, 1);
      BenchKernels.fillUniform(kernels, b, 2);
      System.out.printf("# %s: %.1f GFLOP per call%n", mkn, 2.0 * m * n * k / 1e9);
    }

    /** One product; returns an element of C so the work cannot be dropped. */
    float run() {
      kernels.sgemm(transA, transB, m, n, k, 1f, a, transA ? m : k, b, transB ? k : n, 0f, c, n);
      return middle();
    }

    /** C's middle element, as the last product left it. */
    float middle() {
      kernels.download(c, (long) (m / 2) * n + n / 2, probe, 0, 1);
      return probe[0];
    }

    @Override
    public void close() {
      a.close();
      b.close();
      c.close();
      kernels.close();
    }
  }
}
