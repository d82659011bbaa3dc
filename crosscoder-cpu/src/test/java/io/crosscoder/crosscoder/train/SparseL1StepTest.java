package io.crosscoder.crosscoder.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.cpu.kernels.CpuKernels;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.Sparsity;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The sparse L1 step ({@link TrainingConfig#sparseDecoding()} with {@link
 * TrainingConfig#sparseDensityLimit()}): after the encoder it runs on the sparse rows of the
 * positive activations when they are few enough, else densely. Checked against the dense step
 * ({@code sparseDecoding(false)}, the reference), against the f64 oracle's losses and L0, and against
 * central differences of the oracle's loss (the L1 penalty with its decoder-norm term, with and
 * without shared latents); the switch is checked at the exact count where it flips, and a short
 * run of sparse steps against dense ones.
 */
class SparseL1StepTest {
  private static final int D = 12;
  private static final int F = 56;
  private static final int B = 20;
  private static final double LAMBDA = 0.3;
  private static final double SHARED_FACTOR = 0.15;

  /** The step at a low density (5-15% of the entries positive), with and without shared latents. */
  @ParameterizedTest(name = "shared fraction {0}")
  @ValueSource(doubles = {0.0, 0.1})
  void lowDensityStepEqualsDenseStepOracleAndFiniteDifferences(double sharedFraction) {
    int shared = (int) Math.round(sharedFraction * F);
    ActivationBatch batch = TestData.gaussian(5, D).next(B);
    TrainedWeights w = shiftEncoderBias(TestData.randomWeights(29, D, F, shared, Sparsity.l1((float) LAMBDA), 0.4), -2.5f);
    CrosscoderOracle o = new CrosscoderOracle(D, F, shared, false, LAMBDA, SHARED_FACTOR, 0, 0, 0);
    double[] p = CrosscoderOracle.flat(w);
    double[][] x = CrosscoderOracle.rows(batch);
    CrosscoderOracle.Result r = o.evaluate(p, x, null, null, 0);
    double density = r.l0 / F;
    assertThat(density).as("fraction of positive activations").isBetween(0.03, 0.15);

    Step dense = step(w, batch, sharedFraction, false, 0.2);
    Step sparse = step(w, batch, sharedFraction, true, 0.2);
    assertThat(dense.sparsePath).isFalse();
    assertThat(sparse.sparsePath).as("the sparse path ran").isTrue();
    assertAgree(dense, sparse, r);

    // The sparse gradient against central differences of the f64 loss: every bias and a tenth of
    // the weights.
    SplittableRandom rng = new SplittableRandom(3);
    double h = 1e-5;
    int checked = 0;
    for (int j = 0; j < o.size(); j++) {
      boolean weight = j < 2 * D * F || (j >= 2 * D * F + F && j < o.wDec(F, 0));
      if ((weight && rng.nextInt(10) != 0) || o.tiedTwin(j) == -2) {
        continue;
      }
      double fd = o.centralDifference(p, x, null, null, 0, 0, j, h);
      assertThat((double) sparse.gradient[j]).as("sparse gradient of parameter %d", j)
          .isCloseTo(fd, within(2e-4 + 2e-4 * Math.abs(fd)));
      checked++;
    }
    assertThat(checked).isGreaterThan(F + 2 * D + 4 * D * F / 20);
  }

  /**
   * At a density near one half (as at initialisation), the step is dense when the limit leaves room
   * for one entry fewer than the positives, sparse when it leaves room for all of them; both equal
   * the dense reference and the oracle.
   */
  @Test
  void theSwitchFlipsAtTheCountedNonZeros() {
    ActivationBatch batch = TestData.gaussian(7, D).next(B);
    TrainedWeights w = TestData.randomWeights(31, D, F, 0, Sparsity.l1((float) LAMBDA), 0.4);
    CrosscoderOracle o = new CrosscoderOracle(D, F, 0, false, LAMBDA, SHARED_FACTOR, 0, 0, 0);
    CrosscoderOracle.Result r = o.evaluate(CrosscoderOracle.flat(w), CrosscoderOracle.rows(batch), null, null, 0);
    long nnz = Math.round(r.l0 * B);
    assertThat(nnz / (double) (B * F)).as("density").isBetween(0.3, 0.7);

    Step reference = step(w, batch, 0, false, 1.0);
    Step below = step(w, batch, 0, true, (nnz - 0.5) / (B * F));
    Step at = step(w, batch, 0, true, (nnz + 0.5) / (B * F));
    assertThat(below.sparsePath).as("room for %d entries, %d positive", nnz - 1, nnz).isFalse();
    assertThat(at.sparsePath).as("room for all %d positive entries", nnz).isTrue();
    assertAgree(reference, below, r);
    assertAgree(reference, at, r);
    // Below the switch the step is the dense one, bit for bit.
    assertThat(below.gradient).isEqualTo(reference.gradient);
  }

  /** Ten steps always sparse follow ten dense steps: metrics each step and the weights at the end. */
  @Test
  void sparseTrainingFollowsDenseTraining() {
    TrainedWeights w = shiftEncoderBias(TestData.randomWeights(41, D, F, 0, Sparsity.l1((float) LAMBDA), 0.4), -2f);
    TrainedWeights[] end = new TrainedWeights[2];
    TrainingMetrics[][] metrics = new TrainingMetrics[2][10];
    for (int s = 0; s < 2; s++) {
      TrainingConfig config = config(0, s == 1, 1.0).toBuilder().learningRate(1e-3f).warmupSteps(0).build();
      try (CpuKernels kernels = new CpuKernels(2, true);
          CrosscoderTrainer t = CrosscoderTrainer.startFrom(kernels, config, TestData.gaussian(11, D), w)) {
        for (int i = 0; i < 10; i++) {
          metrics[s][i] = t.trainStep();
          assertThat(t.lastStepSparse()).isEqualTo(s == 1);
        }
        end[s] = t.weights();
      }
    }
    for (int i = 0; i < 10; i++) {
      TrainingMetrics a = metrics[0][i];
      TrainingMetrics b = metrics[1][i];
      assertThat(b.l0()).as("step %d L0", i).isEqualTo(a.l0());
      assertThat(b.totalLoss()).as("step %d loss", i).isCloseTo(a.totalLoss(), within(1e-5 * a.totalLoss()));
      assertThat(b.sparsityLoss()).isCloseTo(a.sparsityLoss(), within(1e-5 * a.sparsityLoss()));
    }
    assertThat(metrics[1][9].l0()).as("L0 at the end").isBetween(1.0, 0.3 * F);
    float[][] a = {end[0].wEnc(), end[0].bEnc(), end[0].wDec(), end[0].bDec()};
    float[][] b = {end[1].wEnc(), end[1].bEnc(), end[1].wDec(), end[1].bDec()};
    for (int m = 0; m < 4; m++) {
      for (int j = 0; j < a[m].length; j++) {
        // Adam moves each weight by about the learning rate per step whatever the gradient's size,
        // so a rounding difference in a near-zero gradient can move a weight by a fraction of it.
        assertThat(b[m][j]).as("tensor %d element %d", m, j).isCloseTo(a[m][j], within(2e-4f));
      }
    }
  }

  private record Step(TrainingMetrics metrics, float[] gradient, boolean sparsePath) {}

  private static Step step(TrainedWeights w, ActivationBatch batch, double sharedFraction, boolean sparse,
      double limit) {
    try (CpuKernels kernels = new CpuKernels(2, true);
        CrosscoderTrainer t = CrosscoderTrainer.startFrom(kernels, config(sharedFraction, sparse, limit),
            TestData.fixed(batch), w)) {
      TrainingMetrics m = t.evaluate(batch);
      return new Step(m, t.gradient(), t.lastStepSparse());
    }
  }

  private static TrainingConfig config(double sharedFraction, boolean sparse, double limit) {
    return TrainingConfig.builder().sparsity(Sparsity.l1((float) LAMBDA)).dictionarySize(F).batchSize(B).steps(10)
        .sharedFraction(sharedFraction).sharedPenaltyFactor((float) SHARED_FACTOR).lambdaWarmupFraction(0)
        .sparseDecoding(sparse).sparseDensityLimit(limit).build();
  }

  /** Metrics of both against the oracle, and the two gradients element by element. */
  private static void assertAgree(Step dense, Step sparse, CrosscoderOracle.Result r) {
    for (TrainingMetrics m : new TrainingMetrics[] {dense.metrics, sparse.metrics}) {
      assertThat(m.reconstructionLoss()).isCloseTo(r.recon, within(1e-5 * r.recon));
      assertThat(m.sparsityLoss()).isCloseTo(r.sparsity, within(1e-5 * r.sparsity));
      assertThat(m.l0()).isCloseTo(r.l0, within(1e-9));
      assertThat(m.explainedVarianceBase()).isCloseTo(r.evBase, within(1e-5));
    }
    assertThat(r.sparsity).as("the penalty takes part").isPositive();
    assertThat(sparse.metrics.gradientNorm()).isCloseTo(dense.metrics.gradientNorm(),
        within(1e-5 * dense.metrics.gradientNorm()));
    double scale = 0;
    for (float gi : dense.gradient) {
      scale = Math.max(scale, Math.abs(gi));
    }
    for (int j = 0; j < dense.gradient.length; j++) {
      assertThat((double) sparse.gradient[j]).as("parameter %d", j)
          .isCloseTo(dense.gradient[j], within(1e-6 * scale + 1e-5 * Math.abs(dense.gradient[j])));
    }
  }

  private static TrainedWeights shiftEncoderBias(TrainedWeights w, float shift) {
    float[] be = w.bEnc().clone();
    for (int i = 0; i < be.length; i++) {
      be[i] += shift;
    }
    return new TrainedWeights(w.d(), w.dictionarySize(), w.sharedLatents(), w.sparsity(), w.wEnc(), w.wDec(), be,
        w.bDec(), w.threshold());
  }
}
