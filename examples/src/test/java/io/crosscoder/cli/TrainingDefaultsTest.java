package io.crosscoder.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.CrosscoderException;
import io.crosscoder.crosscoder.ActivationSource;
import io.crosscoder.crosscoder.Crosscoder;
import io.crosscoder.crosscoder.CrosscoderTraining;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.crosscoder.TrainingResult;
import io.crosscoder.crosscoder.analysis.LatentClass;
import io.crosscoder.io.activations.PlantedDictionary;
import io.crosscoder.tensor.DType;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The defaults work without tuning: on the test-size planted dictionary (d 32; 12 shared, 6
 * base-only and 6 target-only features, each firing with probability 0.1) a crosscoder trained with
 * the default learning rate and warm-up recovers and classes at least as many planted features as
 * one trained with 3e-3, the rate the planted-dictionary tests were tuned to by hand, for a short
 * and a longer run; and a run that is not usable says so, with what to change.
 */
class TrainingDefaultsTest {
  static final PlantedDictionary PLANTED =
      PlantedDictionary.of(new PlantedDictionary.Spec(32, 12, 0, 6, 6, 0, 0.1, 1.0, 0.01, 3));

  /** {@code [found, right]} of one run: {@link #recovery}. */
  private static int[] train(Sparsity sparsity, int dictionary, long steps, Double lr) {
    CrosscoderTraining.Builder b = CrosscoderTraining.builder().dictionarySize(dictionary).sparsity(sparsity)
        .steps(steps).batchSize(256).seed(1).backend("cpu");
    if (lr != null) {
      b.learningRate(lr);
    }
    try (ActivationSource source = PLANTED.source(1 << 16, 7)) {
      TrainingResult r = b.build().train(source);
      return recovery(r.crosscoder());
    }
  }

  @ParameterizedTest(name = "{0} for {1} steps")
  @CsvSource({"batchtopk, 300", "batchtopk, 1500", "l1, 300"})
  void defaultsRecoverAndClassAtLeastAsWellAsAHandTunedLearningRate(String objective, long steps) {
    Sparsity s = objective.equals("l1") ? Sparsity.l1(1) : Sparsity.batchTopK(3);
    int[] tuned = train(s, 48, steps, 3e-3);
    int[] defaults = train(s, 48, steps, null);
    System.out.printf("%s, %d steps: default found %d, right %d; lr 3e-3 found %d, right %d of 24%n", objective,
        steps, defaults[0], defaults[1], tuned[0], tuned[1]);
    assertThat(defaults[0]).as("recovered with defaults vs 3e-3").isGreaterThanOrEqualTo(tuned[0]);
    assertThat(defaults[1]).as("classed right with defaults vs 3e-3").isGreaterThanOrEqualTo(tuned[1]);
    // Measured: BatchTopK 20 of 24 in 300 and in 1500 steps (3e-3: 18 and 20), L1 24 (3e-3: 24).
    assertThat(defaults[0]).as("recovered with defaults, of 24").isGreaterThanOrEqualTo(objective.equals("l1") ? 23 : 19);
    assertThat(defaults[1]).as("classed right with defaults").isGreaterThanOrEqualTo(defaults[0] - 1);
  }

  /**
   * For each planted feature, the latent whose joint decoder {@code [d^A / s_A, d^B / s_B]} (raw
   * units) has the largest cosine with the feature's joint direction; {@code [found, right]}: the
   * features with cosine at least 0.9, and of those the ones whose latent's relative decoder norm
   * {@code |d^B| / (|d^A| + |d^B|)} lies in the feature's class (base-only below 0.1, target-only
   * above 0.9, shared within (0.4, 0.6)).
   */
  static int[] recovery(Crosscoder c) {
    int d = c.d();
    float[] dec = c.decoderWeights();
    double sa = c.normalisation().scale(0);
    double sb = c.normalisation().scale(1);
    int found = 0;
    int right = 0;
    for (int q = 0; q < PLANTED.features(); q++) {
      float[] ua = PLANTED.direction(q, 0);
      float[] ub = PLANTED.direction(q, 1);
      double best = -2;
      double r = Double.NaN;
      for (int i = 0; i < c.dictionarySize(); i++) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int j = 0; j < d; j++) {
          double a = dec[i * 2 * d + j] / sa;
          double b = dec[i * 2 * d + d + j] / sb;
          dot += a * ua[j] + b * ub[j];
          na += a * a;
          nb += b * b;
        }
        double un = PLANTED.kind(q) == PlantedDictionary.Kind.SHARED ? 2 : 1;
        double cos = dot / Math.sqrt(un * (na + nb));
        if (cos > best) {
          best = cos;
          r = Math.sqrt(nb) / (Math.sqrt(na) + Math.sqrt(nb));
        }
      }
      if (best >= 0.9) {
        found++;
        LatentClass expected = PLANTED.kind(q).latentClass();
        boolean ok = switch (expected) {
          case BASE_ONLY -> r < 0.1;
          case TARGET_ONLY -> r > 0.9;
          case SHARED -> r > 0.4 && r < 0.6;
          case OTHER -> false;
        };
        right += ok ? 1 : 0;
      }
    }
    return new int[] {found, right};
  }

  @Test
  void aRunThatReconstructsTooLittleIsWarnedAboutWithWhatToChange() {
    TrainingResult r;
    try (ActivationSource source = PLANTED.source(1 << 16, 7)) {
      r = CrosscoderTraining.builder().dictionarySize(48).sparsity(Sparsity.batchTopK(3)).steps(200).batchSize(256)
          .learningRate(1e-5).backend("cpu").build().train(source);
    }
    assertThat(r.lastStep().explainedVarianceBase()).isLessThan(0.8);
    assertThat(r.warnings()).hasSize(1);
    assertThat(r.warnings().get(0)).contains("below 0.8").contains("more steps (now 200)")
        .contains("a larger learning rate (now 1.00e-05; without one set, this run would use 0.0100")
        .contains("a larger BatchTopK k (now 3)").contains("a larger dictionary (now 48 latents)");
  }

  @Test
  void aDivergedRunSaysSoInsteadOfReturningNonFiniteWeights() {
    try (ActivationSource source = PLANTED.source(1 << 14, 7)) {
      CrosscoderTraining t = CrosscoderTraining.builder().dictionarySize(48).sparsity(Sparsity.l1(1)).steps(6)
          .batchSize(64).learningRate(1e30).backend("cpu").build();
      assertThatThrownBy(() -> t.train(source)).isInstanceOf(CrosscoderException.class)
          .hasMessageStartingWith("training diverged (").hasMessageEndingWith("use a lower learning rate (now 1.00e+30)");
    }
  }

  @Test
  void aDictionaryMostlyDeadIsWarnedAbout() {
    // 24 planted features, 8 of them active per token at most: k = 2 of 512 latents leaves most silent.
    TrainingResult r;
    try (ActivationSource source = PLANTED.source(1 << 16, 7)) {
      r = CrosscoderTraining.builder().dictionarySize(512).sparsity(Sparsity.batchTopK(2)).steps(400).batchSize(256)
          .backend("cpu").build().train(source);
    }
    assertThat(r.deadWindow()).isEqualTo(400 * 256 / 4);
    assertThat(r.deadFraction()).isGreaterThan(0.5);
    assertThat(r.warnings()).anySatisfy(w -> assertThat(w).contains("did not fire in the last 25600 tokens")
        .contains("a smaller dictionary (now 512 latents)"));
  }

  @Test
  void theCliPrintsTheWarningsOnStderr(@TempDir Path dir) {
    Path acts = dir.resolve("acts");
    PLANTED.writeShards(acts, 8000, 4000, DType.F32, 1);
    StringWriter err = new StringWriter();
    int status = CrosscoderCli.run(new String[] {"train", acts.toString(), "--dict-size", "48", "--sparsity",
        "batchtopk:3", "--steps", "60", "--batch", "128", "--lr", "1e-5", "--out",
        dir.resolve("cc.safetensors").toString(), "--no-progress"}, new PrintWriter(new StringWriter(), true),
        new PrintWriter(err, true));
    assertThat(status).as(err.toString()).isZero();
    assertThat(err.toString()).contains("crosscoder: warning: explained variance at the end is")
        .contains("learning rate 1.00e-05 after 3 warm-up steps");
  }
}
