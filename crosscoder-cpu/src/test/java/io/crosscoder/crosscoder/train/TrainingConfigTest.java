package io.crosscoder.crosscoder.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.crosscoder.Sparsity;
import org.junit.jupiter.api.Test;

/** The builder's argument checks and the schedules, against hand-computed values. */
class TrainingConfigTest {

  @Test
  void settersRejectBadValuesAtOnce() {
    TrainingConfig.Builder b = TrainingConfig.builder();
    assertThatThrownBy(() -> b.dictionarySize(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("dictionarySize");
    assertThatThrownBy(() -> b.learningRate(Float.NaN)).hasMessageContaining("learningRate");
    assertThatThrownBy(() -> b.decayFraction(1.5)).hasMessageContaining("decayFraction");
    assertThatThrownBy(() -> b.adamBetas(0.9f, 1f)).hasMessageContaining("betas");
    assertThatThrownBy(() -> b.gradientClipNorm(0f)).hasMessageContaining("gradientClipNorm");
    assertThatThrownBy(() -> b.sharedFraction(-0.1)).hasMessageContaining("sharedFraction");
    assertThatThrownBy(() -> b.deadTokens(0)).hasMessageContaining("deadTokens");
    assertThatThrownBy(b::build).isInstanceOf(IllegalStateException.class).hasMessageContaining("dictionarySize");
    assertThatThrownBy(() -> TrainingConfig.builder().sparsity(Sparsity.batchTopK(9))
        .dictionarySize(8).build()).hasMessageContaining("k = 9");
  }

  @Test
  void defaultsAreThoseOfTheMethod() {
    TrainingConfig c = TrainingConfig.builder().dictionarySize(100).build();
    assertThat(c.beta1()).isEqualTo(0.9f);
    assertThat(c.beta2()).isEqualTo(0.999f);
    assertThat(c.epsilon()).isEqualTo(1e-8f);
    assertThat(c.gradientClipNorm()).isEqualTo(1f);
    assertThat(c.decayFraction()).isEqualTo(0.2);
    assertThat(c.lambdaWarmupFraction()).isEqualTo(0.05);
    assertThat(c.auxWeight()).isEqualTo(1f / 32);
    assertThat(c.sharedPenaltyFactor()).isEqualTo(0.15f);
    assertThat(c.decoderInitNorm()).isEqualTo(0.08f);
    assertThat(c.auxK(768)).isEqualTo(100); // d / 2 = 384, capped at F = 100
    assertThat(c.toBuilder().build()).isEqualTo(c);
  }

  @Test
  void schedulesWarmUpAndDecay() {
    TrainingConfig c = TrainingConfig.builder().dictionarySize(4).steps(100).learningRate(1f)
        .warmupSteps(10).sparsity(Sparsity.l1(2)).sharedFraction(0.5).build();
    assertThat(c.sharedLatents()).isEqualTo(2);
    assertThat(c.learningRateAt(0)).isCloseTo(0.1f, within(1e-7f));
    assertThat(c.learningRateAt(9)).isEqualTo(1f);
    assertThat(c.learningRateAt(79)).isEqualTo(1f);
    assertThat(c.learningRateAt(80)).isEqualTo(1f); // (100 - 80) / 20
    assertThat(c.learningRateAt(90)).isCloseTo(0.5f, within(1e-7f));
    assertThat(c.learningRateAt(99)).isCloseTo(0.05f, within(1e-7f));
    assertThat(c.lambdaAt(0)).isCloseTo(0.4f, within(1e-7f)); // 2 * 1 / 5
    assertThat(c.lambdaAt(4)).isEqualTo(2f);
    assertThat(c.toBuilder().sparsity(Sparsity.batchTopK(2)).build().lambdaAt(50)).isZero();
  }

  @Test
  void learningRateAndWarmUpFollowTheDictionaryAndTheRunUnlessSet() {
    // min(1e-2, max(2e-4 sqrt(16384 / F), 4 / steps)), by hand.
    assertThat(TrainingConfig.defaultLearningRate(16384, 100_000)).isEqualTo(2e-4f);
    assertThat(TrainingConfig.defaultLearningRate(65536, 1_000_000)).isEqualTo(1e-4f);
    assertThat(TrainingConfig.defaultLearningRate(16384, 20_000)).isEqualTo(2e-4f); // the terms meet
    assertThat(TrainingConfig.defaultLearningRate(16384, 10_000)).isEqualTo(4e-4f);
    assertThat(TrainingConfig.defaultLearningRate(2048, 3000)).isEqualTo((float) (4.0 / 3000));
    assertThat(TrainingConfig.defaultLearningRate(2048, 100_000)).isEqualTo((float) (2e-4 * Math.sqrt(8)));
    assertThat(TrainingConfig.defaultLearningRate(48, 300)).isEqualTo(1e-2f);
    assertThat(TrainingConfig.defaultLearningRate(1, 1_000_000)).isEqualTo(1e-2f); // 2e-4 * 128, capped
    assertThat(TrainingConfig.defaultWarmupSteps(3000)).isEqualTo(150);
    assertThat(TrainingConfig.defaultWarmupSteps(20_000)).isEqualTo(1000);
    assertThat(TrainingConfig.defaultWarmupSteps(1_000_000)).isEqualTo(1000);
    assertThat(TrainingConfig.defaultWarmupSteps(10)).isEqualTo(1); // round(0.5)
    assertThat(TrainingConfig.defaultWarmupSteps(1)).isZero();
    assertThatThrownBy(() -> TrainingConfig.defaultLearningRate(0, 10)).hasMessageContaining("at least 1");

    TrainingConfig c = TrainingConfig.builder().dictionarySize(2048).steps(3000).build();
    assertThat(c.learningRate()).isEqualTo((float) (4.0 / 3000));
    assertThat(c.warmupSteps()).isEqualTo(150);
    // Unset values are derived again for the new run; set ones are kept.
    TrainingConfig longer = c.toBuilder().steps(100_000).build();
    assertThat(longer.learningRate()).isEqualTo((float) (2e-4 * Math.sqrt(8)));
    assertThat(longer.warmupSteps()).isEqualTo(1000);
    TrainingConfig set = TrainingConfig.builder().dictionarySize(2048).steps(3000).learningRate(1e-3f).warmupSteps(7)
        .build().toBuilder().steps(100_000).build();
    assertThat(set.learningRate()).isEqualTo(1e-3f);
    assertThat(set.warmupSteps()).isEqualTo(7);
  }

  @Test
  void sparseDensityLimitIsCheckedKeptAndDescribedOnlyWhenSet() {
    TrainingConfig defaults = TrainingConfig.builder().dictionarySize(64).build();
    assertThat(defaults.sparseDensityLimit()).isEqualTo(0.05);
    // Absent at the default, so a checkpoint written before the option existed still matches.
    assertThat(defaults.describe()).doesNotContainKey("sparse_density_limit");
    TrainingConfig set = defaults.toBuilder().sparseDensityLimit(0.2).build();
    assertThat(set.describe()).containsEntry("sparse_density_limit", 0.2);
    assertThat(set.toBuilder().build().sparseDensityLimit()).isEqualTo(0.2);
    assertThat(set).isNotEqualTo(defaults);
    for (double bad : new double[] {-0.01, 1.01, Double.NaN}) {
      assertThatThrownBy(() -> TrainingConfig.builder().sparseDensityLimit(bad))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sparseDensityLimit");
    }
  }

  @Test
  void thresholdStartsHalfwayThroughShortRunsUnlessSet() {
    assertThat(TrainingConfig.builder().dictionarySize(8).build().thresholdStartStep()).isEqualTo(1000);
    assertThat(TrainingConfig.builder().dictionarySize(8).steps(300).build().thresholdStartStep()).isEqualTo(150);
    assertThat(TrainingConfig.builder().dictionarySize(8).steps(300).thresholdStartStep(7).build()
        .thresholdStartStep()).isEqualTo(7);
    TrainingConfig c = TrainingConfig.builder().dictionarySize(8).steps(300).build();
    assertThat(c.toBuilder().build()).isEqualTo(c);
  }
}
