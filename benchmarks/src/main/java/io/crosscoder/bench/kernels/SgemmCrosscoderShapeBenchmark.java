package io.crosscoder.bench.kernels;

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
 * The crosscoder encoder product at full size, batch 4096 x 2d 3072 times 2d 3072 x F 16384:
 * 412 GFLOP per call, seconds per call on one core, so few iterations. The Java SGEMM with the
 * Vector API against OpenBLAS on 1 and 2 threads, in one run; the plain-Java micro-kernel is
 * left to {@link SgemmBenchmark}'s smaller shapes (it would take minutes per call here).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
public class SgemmCrosscoderShapeBenchmark {
  @Param({"4096x3072x16384"})
  public String mkn;

  @Param({"vector", "openblas"})
  public String impl;

  @Param({"1", "2"})
  public int threads;

  /**
   * Which operands are stored transposed, as in {@link SgemmBenchmark#trans}: {@code NN} by
   * default; {@code -p trans=NN,TN,NT} adds the training step's gradient products at this size.
   */
  @Param({"NN"})
  public String trans;

  private SgemmBenchmark.Gemm gemm;

  @Setup(Level.Trial)
  public void setUp() {
    gemm = new SgemmBenchmark.Gemm(mkn, impl, threads, trans);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    gemm.close();
  }

  @Benchmark
  public float sgemm() {
    return gemm.run();
  }
}
