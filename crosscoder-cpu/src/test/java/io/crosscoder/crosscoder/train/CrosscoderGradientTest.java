package io.crosscoder.crosscoder.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.crosscoder.cpu.kernels.CpuKernels;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.Sparsity;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The hand-written backward pass against central finite differences of the f64 oracle's loss, on
 * a tiny problem with a designated shared latent (whose two halves are one parameter: perturbed
 * together).
 */
class CrosscoderGradientTest {

  static Stream<Arguments> cases() {
    return Stream.of(Arguments.of(Sparsity.l1(0.3f), false),
        Arguments.of(Sparsity.batchTopK(1), false),
        Arguments.of(Sparsity.batchTopK(1), true));
  }

  @ParameterizedTest(name = "{0}, sparse decoding {1}")
  @MethodSource("cases")
  void gradientMatchesFiniteDifferences(Sparsity v, boolean sparse) {
    int d = 3;
    int f = 4;
    int b = 3;
    boolean topK = v instanceof Sparsity.BatchTopK;
    TrainingConfig config = TrainingConfig.builder().sparsity(v).dictionarySize(f).batchSize(b).steps(100)
        .sharedFraction(0.25).sharedPenaltyFactor(0.15f).auxK(2).deadTokens(b).auxWeight(0.5f)
        .lambdaWarmupFraction(0).sparseDecoding(sparse).build();
    ActivationBatch batch = TestData.gaussian(11, d).next(b);
    TrainedWeights w = TestData.randomWeights(13, d, f, 1, v, 0.6);
    float[] g;
    double auxLoss;
    try (CpuKernels kernels = new CpuKernels(2, true);
        CrosscoderTrainer t = CrosscoderTrainer.startFrom(kernels, config, TestData.fixed(batch), w)) {
      auxLoss = t.evaluate(batch).auxiliaryLoss();
      g = t.gradient();
    }
    CrosscoderOracle o = new CrosscoderOracle(d, f, 1, topK, 0.3, 0.15, 1, 2, 0.5);
    double[] p = CrosscoderOracle.flat(w);
    double[][] x = CrosscoderOracle.rows(batch);
    CrosscoderOracle.Result r0 = o.evaluate(p, x, null, null, 0);
    boolean[] dead = new boolean[f];
    for (int i = 0; i < f; i++) {
      dead[i] = !r0.fired[i];
    }
    if (topK) {
      assertThat(auxLoss).as("the auxiliary loss takes part").isPositive();
    }
    assertThat(g).hasSize(o.size());
    double h = 1e-5;
    int checked = 0;
    for (int j = 0; j < o.size(); j++) {
      int tiedTwin = o.tiedTwin(j);
      if (tiedTwin == -2) {
        continue; // the second half of a shared latent: checked through the first
      }
      double fd = o.centralDifference(p, x, dead, r0.residual, r0.residualSpread, 0.5, j, h);
      assertThat((double) g[j]).as("parameter %d", j).isCloseTo(fd, org.assertj.core.api.Assertions.within(2e-4 + 2e-4 * Math.abs(fd)));
      if (tiedTwin >= 0) {
        assertThat(g[tiedTwin]).as("tied twin of %d", j).isEqualTo(g[j]);
      }
      checked++;
    }
    assertThat(checked).isEqualTo(o.size() - d);
  }

  /** For a shared latent's decoder element: the index of its twin (first half) or -2 (second half); else -1. */
}
