package io.crosscoder.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.crosscoder.backend.Availability;
import io.crosscoder.backend.Kernels;
import io.crosscoder.cpu.kernels.CpuKernels;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.crosscoder.train.CrosscoderTrainer;
import io.crosscoder.crosscoder.train.TrainedWeights;
import io.crosscoder.crosscoder.train.TrainingConfig;
import io.crosscoder.crosscoder.train.TrainingData;
import io.crosscoder.crosscoder.train.TrainingMetrics;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The whole trainer on the GPU against the trainer on the CPU, whose kernels the conformance
 * suite and the f64 finite-difference oracle check: the same configuration and data for 20 steps
 * must give the same losses and weights up to f32 rounding (summation orders differ, so not bit
 * for bit). Skipped, with the reason, where no GPU is usable.
 */
class CudaTrainingAgreementTest {

  @ParameterizedTest
  @ValueSource(strings = {"l1", "batchtopk"})
  void twentyStepsOnTheGpuFollowTheCpu(String objective) {
    CudaBackendProvider provider = new CudaBackendProvider();
    Availability a = provider.availability();
    assumeTrue(a.available(), () -> "cuda unavailable: " + a.reason());
    TrainingConfig config = TrainingConfig.builder()
        .sparsity(objective.equals("l1") ? Sparsity.l1(2) : Sparsity.batchTopK(8)).dictionarySize(256).batchSize(128)
        .steps(20).learningRate(1e-3f).seed(7).build();
    Run cpu;
    try (CpuKernels kernels = new CpuKernels(2, true)) {
      cpu = train(kernels, config);
    }
    Run gpu;
    try (CudaBackend backend = (CudaBackend) provider.create()) {
      gpu = train(backend.kernels(), config);
    }
    for (int s = 0; s < cpu.metrics.size(); s++) {
      TrainingMetrics c = cpu.metrics.get(s);
      TrainingMetrics g = gpu.metrics.get(s);
      assertThat(g.totalLoss()).as("loss at step %d", s + 1).isCloseTo(c.totalLoss(),
          org.assertj.core.api.Assertions.within(1e-3 * Math.abs(c.totalLoss()) + 1e-9));
      assertThat(g.l0()).as("L0 at step %d", s + 1).isCloseTo(c.l0(), org.assertj.core.api.Assertions.within(0.05 * c.l0() + 0.01));
    }
    assertThat(relativeDifference(gpu.weights.wEnc(), cpu.weights.wEnc())).as("W_enc").isLessThan(1e-3);
    assertThat(relativeDifference(gpu.weights.wDec(), cpu.weights.wDec())).as("W_dec").isLessThan(1e-3);
    assertThat(relativeDifference(gpu.weights.bEnc(), cpu.weights.bEnc())).as("b_enc").isLessThan(1e-3);
  }

  private record Run(List<TrainingMetrics> metrics, TrainedWeights weights) {}

  private static Run train(Kernels kernels, TrainingConfig config) {
    List<TrainingMetrics> metrics = new ArrayList<>();
    try (CrosscoderTrainer t = CrosscoderTrainer.start(kernels, config, new Gaussian(32, 11))) {
      while (!t.finished()) {
        metrics.add(t.trainStep());
      }
      return new Run(metrics, t.weights());
    }
  }

  /** {@code |x - y| / |y|} in f64. */
  private static double relativeDifference(float[] x, float[] y) {
    double diff = 0;
    double norm = 0;
    for (int i = 0; i < x.length; i++) {
      diff += ((double) x[i] - y[i]) * ((double) x[i] - y[i]);
      norm += (double) y[i] * y[i];
    }
    return Math.sqrt(diff / norm);
  }

  /** Correlated gaussian activations: the target is the base plus a small, token-wise change. */
  private static final class Gaussian implements TrainingData {
    private final int d;
    private final Random random;

    Gaussian(int d, long seed) {
      this.d = d;
      this.random = new Random(seed);
    }

    @Override
    public int d() {
      return d;
    }

    @Override
    public ActivationBatch next(int batchSize) {
      float[] base = new float[batchSize * d];
      float[] target = new float[batchSize * d];
      for (int i = 0; i < base.length; i++) {
        base[i] = (float) random.nextGaussian();
        target[i] = base[i] + 0.3f * (float) random.nextGaussian();
      }
      return new ActivationBatch(batchSize, d, base, target);
    }
  }
}
