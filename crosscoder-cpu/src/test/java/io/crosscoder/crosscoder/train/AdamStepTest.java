package io.crosscoder.crosscoder.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.cpu.kernels.CpuKernels;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.Sparsity;
import org.junit.jupiter.api.Test;

/**
 * Two optimiser steps against Adam, gradient clipping and the learning-rate schedule worked out in
 * f64 from the trainer's own (separately verified) gradients.
 */
class AdamStepTest {

  @Test
  void twoStepsFollowClippedAdam() {
    int d = 3;
    int f = 5;
    int b = 4;
    float lr = 0.01f;
    float clip = 0.5f;
    TrainingConfig config = TrainingConfig.builder().dictionarySize(f).batchSize(b).steps(10)
        .learningRate(lr).warmupSteps(4).decayFraction(0).gradientClipNorm(clip)
        .sparsity(Sparsity.l1(0.2f)).lambdaWarmupFraction(0).sharedFraction(0.2).build();
    ActivationBatch batch = TestData.gaussian(21, d).next(b);
    TrainedWeights w = TestData.randomWeights(23, d, f, 1, Sparsity.l1(0.2f), 0.5);
    double[] p = CrosscoderOracle.flat(w);
    double[] m = new double[p.length];
    double[] v = new double[p.length];
    int sharedStart = 2 * d * f + f;
    try (CpuKernels kernels = new CpuKernels(2, true);
        CrosscoderTrainer t = CrosscoderTrainer.startFrom(kernels, config, TestData.fixed(batch), w)) {
      for (int step = 1; step <= 2; step++) {
        t.evaluate(batch);
        float[] g = t.gradient();
        // The global norm counts the tied decoder of the shared latent once.
        double squares = 0;
        for (int j = 0; j < g.length; j++) {
          boolean twin = j >= sharedStart + d && j < sharedStart + 2 * d;
          squares += twin ? 0 : (double) g[j] * g[j];
        }
        double norm = Math.sqrt(squares);
        assertThat(norm).as("clipping must act").isGreaterThan(clip);
        float coef = (float) (clip / (norm + 1e-6));
        double stepLr = lr * Math.min(1.0, step / 4.0);
        TrainingMetrics metrics = t.trainStep();
        assertThat(metrics.gradientNorm()).isCloseTo(norm, within(1e-5 * norm));
        assertThat(metrics.learningRate()).isCloseTo(stepLr, within(1e-9));
        double bc1 = 1 - Math.pow(0.9, step);
        double bc2 = 1 - Math.pow(0.999, step);
        for (int j = 0; j < p.length; j++) {
          double gj = coef * g[j];
          m[j] = 0.9 * m[j] + 0.1 * gj;
          v[j] = 0.999 * v[j] + 0.001 * gj * gj;
          p[j] -= stepLr * (m[j] / bc1) / (Math.sqrt(v[j] / bc2) + 1e-8);
        }
        double[] got = CrosscoderOracle.flat(t.weights());
        for (int j = 0; j < p.length; j++) {
          assertThat(got[j]).as("parameter %d after step %d", j, step).isCloseTo(p[j], within(2e-6 + 1e-5 * Math.abs(p[j])));
        }
      }
      // The shared latent's halves are still one vector.
      float[] dec = t.weights().wDec();
      for (int j = 0; j < d; j++) {
        assertThat(dec[d + j]).isEqualTo(dec[j]);
      }
    }
  }
}
