package io.crosscoder.crosscoder.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.cpu.kernels.CpuKernels;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.Sparsity;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The losses and metrics of one step against values worked out by hand and an f64 oracle. */
class CrosscoderLossTest {
  private static CpuKernels kernels;

  @BeforeAll
  static void open() {
    kernels = new CpuKernels(2, true);
  }

  @AfterAll
  static void close() {
    kernels.close();
  }

  /**
   * d = 2, F = 3, B = 2. Latent 0 reads x_A[0] and writes A only; latent 1 reads x_B[0] and writes
   * 2 e_B0 (norm 2); latent 2 reads x_A[1] + x_B[1] - 1 and writes e_A1 + e_B1.
   */
  private static TrainedWeights handWeights(Sparsity v) {
    float[] enc = new float[4 * 3];
    enc[0 * 3 + 0] = 1; // x_A[0] -> latent 0
    enc[2 * 3 + 1] = 1; // x_B[0] -> latent 1
    enc[1 * 3 + 2] = 1; // x_A[1] -> latent 2
    enc[3 * 3 + 2] = 1; // x_B[1] -> latent 2
    float[] dec = new float[3 * 4];
    dec[0 * 4 + 0] = 1;
    dec[1 * 4 + 2] = 2;
    dec[2 * 4 + 1] = 1;
    dec[2 * 4 + 3] = 1;
    return new TrainedWeights(2, 3, 0, v, enc, dec, new float[] {0, 0, -1}, new float[4], Float.NaN);
  }

  private static ActivationBatch handBatch() {
    // token 1: x_A = (1, 2), x_B = (3, 1); token 2: x_A = (-1, 0), x_B = (1, 0.5)
    return new ActivationBatch(2, 2, new float[] {1, 2, -1, 0}, new float[] {3, 1, 1, 0.5f});
  }

  @Test
  void l1LossOfAHandWorkedBatch() {
    TrainingConfig config = TrainingConfig.builder().dictionarySize(3).batchSize(2).steps(10)
        .sparsity(Sparsity.l1(0.5f)).lambdaWarmupFraction(0).warmupSteps(0).build();
    try (CrosscoderTrainer t = CrosscoderTrainer.startFrom(kernels, config, TestData.fixed(handBatch()),
        handWeights(Sparsity.l1(0.5f)))) {
      TrainingMetrics m = t.evaluate(handBatch());
      // f = (1, 3, 2) and (0, 1, 0); errors |E|^2 = 10 and 2.25.
      assertThat(m.reconstructionLoss()).isCloseTo(6.125, within(1e-6));
      // c = (1, 2, 2); sum f c = 11 and 2; lambda 0.5 * 13 / 2.
      assertThat(m.sparsityLoss()).isCloseTo(3.25, within(1e-6));
      assertThat(m.totalLoss()).isCloseTo(9.375, within(1e-6));
      assertThat(m.l0()).isCloseTo(2.0, within(1e-12));
      assertThat(m.explainedVarianceBase()).isCloseTo(0.75, within(1e-6));
      assertThat(m.explainedVarianceTarget()).isCloseTo(1 - 11.25 / 2.125, within(1e-5));
      assertThat(m.lambda()).isEqualTo(0.5);
      assertThat(m.auxiliaryLoss()).isZero();
    }
  }

  @Test
  void batchTopKLossOfAHandWorkedBatch() {
    TrainingConfig config = TrainingConfig.builder().sparsity(Sparsity.batchTopK(1))
        .dictionarySize(3).batchSize(2).steps(10).auxK(1).deadTokens(2).thresholdStartStep(0)
        .warmupSteps(0).build();
    try (CrosscoderTrainer t = CrosscoderTrainer.startFrom(kernels, config, TestData.fixed(handBatch()),
        handWeights(Sparsity.batchTopK(1)))) {
      TrainingMetrics m = t.trainStep();
      // Scores (1, 6, 4) and (0, 2, 0): the two kept are 6 and 4, both in token 1.
      assertThat(m.reconstructionLoss()).isCloseTo(6.625, within(1e-6));
      assertThat(m.sparsityLoss()).isZero();
      // Latent 0 is dead; its top-1 decodes e^ = (1, 0, 0, 0) for token 1; spread 11.125.
      assertThat(m.auxiliaryLoss()).isCloseTo(12.25 / 11.125, within(1e-6));
      assertThat(m.totalLoss()).isCloseTo(6.625 + 12.25 / 11.125 / 32, within(1e-6));
      assertThat(m.l0()).isCloseTo(1.0, within(1e-12));
      assertThat(m.deadFraction()).isCloseTo(1.0 / 3, within(1e-12));
      assertThat(m.threshold()).isEqualTo(4.0);
      assertThat(t.threshold()).isEqualTo(4f);
    }
  }

  @Test
  void lossesAgreeWithTheOracleOnRandomBatches() {
    for (Sparsity v : List.of(Sparsity.l1(0.7f), Sparsity.batchTopK(3))) {
      int d = 5;
      int f = 12;
      int b = 7;
      TrainingConfig config = TrainingConfig.builder().sparsity(v).dictionarySize(f).batchSize(b).steps(100)
          .sharedFraction(0.25).auxK(4).deadTokens(b).lambdaWarmupFraction(0)
          .build();
      ActivationBatch batch = TestData.gaussian(3, d).next(b);
      TrainedWeights w = TestData.randomWeights(5, d, f, 3, v, 0.4);
      try (CrosscoderTrainer t = CrosscoderTrainer.startFrom(kernels, config, TestData.fixed(batch), w)) {
        TrainingMetrics m = t.evaluate(batch);
        CrosscoderOracle o = new CrosscoderOracle(d, f, 3, v instanceof Sparsity.BatchTopK, 0.7,
            0.15, 3, 4, 1.0 / 32);
        double[] p = CrosscoderOracle.flat(w);
        double[][] x = CrosscoderOracle.rows(batch);
        CrosscoderOracle.Result r0 = o.evaluate(p, x, null, null, 0);
        boolean[] dead = new boolean[f];
        for (int i = 0; i < f; i++) {
          dead[i] = !r0.fired[i];
        }
        CrosscoderOracle.Result r = o.evaluate(p, x, dead, r0.residual, r0.residualSpread);
        assertThat(m.reconstructionLoss()).isCloseTo(r.recon, within(1e-5 * r.recon));
        assertThat(m.sparsityLoss()).isCloseTo(r.sparsity, within(1e-5 * Math.max(1, r.sparsity)));
        assertThat(m.auxiliaryLoss()).isCloseTo(r.aux, within(1e-5 * Math.max(1, r.aux)));
        assertThat(m.l0()).isCloseTo(r.l0, within(1e-12));
        assertThat(m.explainedVarianceBase()).isCloseTo(r.evBase, within(1e-5));
        assertThat(m.explainedVarianceTarget()).isCloseTo(r.evTarget, within(1e-5));
        if (v instanceof Sparsity.BatchTopK) {
          assertThat(r.aux).as("the auxiliary loss is exercised").isPositive();
          assertThat(m.l0()).isCloseTo(3.0, within(1e-12));
        }
      }
    }
  }
}
