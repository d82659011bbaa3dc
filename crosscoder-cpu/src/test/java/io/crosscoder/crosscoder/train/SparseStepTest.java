package io.crosscoder.crosscoder.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.cpu.kernels.CpuKernels;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.Sparsity;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The sparse training step ({@link TrainingConfig#sparseDecoding()}: decoder, latent and encoder
 * gradients on the kept and auxiliary entries only) against the dense step (the oracle kept
 * selectable for this) and against central finite differences of the f64 oracle's loss, on a
 * problem large enough for many dead latents, tokens that keep nothing (token 0 is all zeros) and
 * several kept entries per latent: BatchTopK with and without the auxiliary loss, without dead
 * latents, with a shared latent; L1 (which has no sparse path) against the oracle at the same size.
 */
class SparseStepTest {
  private static final int D = 12;
  private static final int F = 56;
  private static final int B = 20;
  private static final int K = 3;
  private static final int AUX_K = 4;

  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of("BatchTopK, dead latents, aux", Sparsity.batchTopK(K), 0.5f, (long) B, 0.0),
        Arguments.of("BatchTopK, dead latents, no aux", Sparsity.batchTopK(K), 0f, (long) B, 0.0),
        Arguments.of("BatchTopK, no dead latents", Sparsity.batchTopK(K), 0.5f, 1_000_000L, 0.0),
        Arguments.of("BatchTopK, aux, shared latents", Sparsity.batchTopK(K), 0.5f, (long) B, 0.1),
        Arguments.of("L1", Sparsity.l1(0.3f), 0f, (long) B, 0.0));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void sparseStepEqualsDenseStepAndFiniteDifferences(String name, Sparsity v, float auxWeight, long deadTokens,
      double sharedFraction) {
    boolean topK = v instanceof Sparsity.BatchTopK;
    int shared = (int) Math.round(sharedFraction * F);
    ActivationBatch batch = batchWithSilentToken();
    TrainedWeights w = TestData.randomWeights(29, D, F, shared, v, 0.4);
    TrainingMetrics[] m = new TrainingMetrics[2];
    float[][] g = new float[2][];
    for (int s = 0; s < 2; s++) {
      TrainingConfig config = TrainingConfig.builder().sparsity(v).dictionarySize(F).batchSize(B).steps(10)
          .sharedFraction(sharedFraction).sharedPenaltyFactor(0.15f).auxK(AUX_K).deadTokens(deadTokens)
          .auxWeight(auxWeight).lambdaWarmupFraction(0).sparseDecoding(s == 1).build();
      try (CpuKernels kernels = new CpuKernels(2, true);
          CrosscoderTrainer t = CrosscoderTrainer.startFrom(kernels, config, TestData.fixed(batch), w)) {
        m[s] = t.evaluate(batch);
        g[s] = t.gradient();
      }
    }
    TrainingMetrics dense = m[0];
    TrainingMetrics sparse = m[1];

    // The f64 oracle's losses at the same weights.
    CrosscoderOracle o = new CrosscoderOracle(D, F, shared, topK, 0.3, 0.15, K, AUX_K, auxWeight);
    double[] p = CrosscoderOracle.flat(w);
    double[][] x = CrosscoderOracle.rows(batch);
    CrosscoderOracle.Result r0 = o.evaluate(p, x, null, null, 0);
    boolean[] dead = null;
    int deadCount = 0;
    if (deadTokens <= B) {
      dead = new boolean[F];
      for (int i = 0; i < F; i++) {
        dead[i] = !r0.fired[i];
        deadCount += dead[i] ? 1 : 0;
      }
    }
    CrosscoderOracle.Result full = o.evaluate(p, x, dead, r0.residual, r0.residualSpread);
    if (topK && deadTokens <= B) {
      assertThat(deadCount).as("dead latents in this batch").isGreaterThan(F / 4);
    }
    for (TrainingMetrics t : m) {
      assertThat(t.reconstructionLoss()).isCloseTo(full.recon, within(1e-5 * full.recon));
      assertThat(t.l0()).isCloseTo(full.l0, within(1e-9));
      assertThat(t.deadFraction()).isCloseTo(deadCount / (double) F, within(1e-12));
      if (auxWeight > 0 && deadCount > 0) {
        assertThat(full.aux).as("the auxiliary loss takes part").isPositive();
        assertThat(t.auxiliaryLoss()).isCloseTo(full.aux, within(1e-5 * full.aux));
      }
    }
    assertThat(sparse.totalLoss()).isCloseTo(dense.totalLoss(), within(1e-6 * Math.abs(dense.totalLoss())));
    assertThat(sparse.gradientNorm()).isCloseTo(dense.gradientNorm(), within(1e-5 * dense.gradientNorm()));

    // Sparse and dense gradients agree element by element, to f32 rounding of their sums.
    double scale = 0;
    for (float gi : g[0]) {
      scale = Math.max(scale, Math.abs(gi));
    }
    for (int j = 0; j < g[0].length; j++) {
      assertThat((double) g[1][j]).as("parameter %d", j)
          .isCloseTo(g[0][j], within(1e-6 * scale + 1e-5 * Math.abs(g[0][j])));
    }

    // Both against central differences of the f64 loss, on every bias and a sample of the weights.
    double auxW = auxWeight;
    SplittableRandom rng = new SplittableRandom(3);
    double h = 1e-5;
    int checked = 0;
    for (int j = 0; j < o.size(); j++) {
      boolean weight = j < 2 * D * F || (j >= 2 * D * F + F && j < o.wDec(F, 0));
      if ((weight && rng.nextInt(12) != 0) || o.tiedTwin(j) == -2) {
        continue;
      }
      double fd = o.centralDifference(p, x, dead, r0.residual, r0.residualSpread, auxW, j, h);
      for (int s = 0; s < 2; s++) {
        assertThat((double) g[s][j]).as("%s gradient of parameter %d", s == 0 ? "dense" : "sparse", j)
            .isCloseTo(fd, within(2e-4 + 2e-4 * Math.abs(fd)));
      }
      checked++;
    }
    assertThat(checked).isGreaterThan(F + 2 * D + 4 * D * F / 24);
  }

  /** Gaussian rows, token 0 all zeros: its scores are only the encoder bias's, so it keeps nothing or little. */
  private static ActivationBatch batchWithSilentToken() {
    ActivationBatch b = TestData.gaussian(5, D).next(B);
    float[] base = b.base().clone();
    float[] target = b.target().clone();
    java.util.Arrays.fill(base, 0, D, 0f);
    java.util.Arrays.fill(target, 0, D, 0f);
    return new ActivationBatch(B, D, base, target);
  }
}
