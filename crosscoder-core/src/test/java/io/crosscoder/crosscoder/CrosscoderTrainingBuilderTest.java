package io.crosscoder.crosscoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every setter of {@link CrosscoderTraining.Builder} rejects a bad value at once, saying which and why. */
class CrosscoderTrainingBuilderTest {
  @TempDir Path dir;

  @Test
  void everySetterRejectsBadValuesWithAMessage() {
    CrosscoderTraining.Builder b = CrosscoderTraining.builder();
    assertThatThrownBy(() -> b.dictionarySize(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("dictionarySize must be at least 1, got 0");
    assertThatThrownBy(() -> b.sparsity(null)).isInstanceOf(NullPointerException.class).hasMessage("sparsity");
    assertThatThrownBy(() -> b.sparsity(Sparsity.batchTopK(8, 0.5))).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("threshold is learned").hasMessageContaining("Sparsity.batchTopK(8)");
    assertThatThrownBy(() -> b.sharedFraction(1.5)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("sharedFraction must be in [0, 1], got 1.5");
    assertThatThrownBy(() -> b.sharedFraction(Double.NaN)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("sharedFraction");
    assertThatThrownBy(() -> b.steps(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("steps must be at least 1, got 0");
    assertThatThrownBy(() -> b.batchSize(-4)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("batchSize must be at least 1, got -4");
    for (double lr : new double[] {0, -1e-3, Double.NaN, Double.POSITIVE_INFINITY, 1e300, 1e-60}) {
      assertThatThrownBy(() -> b.learningRate(lr)).as("lr %s", lr).isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith("learningRate must be finite and positive");
    }
    assertThatThrownBy(() -> b.warmupSteps(-1)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("warmupSteps must be at least 0, got -1");
    assertThatThrownBy(() -> b.normalisation(null)).isInstanceOf(NullPointerException.class)
        .hasMessage("normalisation");
    assertThatThrownBy(() -> b.backend(" ")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("backend name is blank. ");
    assertThatThrownBy(() -> b.backend("tpu")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("no compute backend named 'tpu'");
    assertThatThrownBy(() -> b.backend((io.crosscoder.backend.ComputeBackend) null))
        .isInstanceOf(NullPointerException.class).hasMessage("backend");
    assertThatThrownBy(() -> b.checkpoint(dir.resolve("c.ckpt"), 0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("checkpoint interval must be at least 1 step, got 0");
    assertThatThrownBy(() -> b.checkpoint(dir, 10)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("is a folder");
    assertThatThrownBy(() -> b.checkpoint(null, 10)).isInstanceOf(NullPointerException.class).hasMessage("checkpoint");
    assertThatThrownBy(() -> b.metricsFile(dir)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("is a folder");
    assertThatThrownBy(() -> b.metricsFile(null)).isInstanceOf(NullPointerException.class).hasMessage("metricsFile");
    assertThatThrownBy(() -> b.progress(null)).isInstanceOf(NullPointerException.class).hasMessage("progress");
  }

  @Test
  void buildNeedsADictionarySizeThatHoldsK() {
    assertThatThrownBy(() -> CrosscoderTraining.builder().build()).isInstanceOf(IllegalStateException.class)
        .hasMessage("dictionarySize must be set");
    assertThatThrownBy(() -> CrosscoderTraining.builder().dictionarySize(8).sparsity(Sparsity.batchTopK(9)).build())
        .isInstanceOf(IllegalStateException.class).hasMessage("k = 9 exceeds the dictionary size 8");
  }

  @Test
  void theBackendIsChosenOnce() {
    var reference = new io.crosscoder.testing.ReferenceBackend();
    CrosscoderTraining.Builder b = CrosscoderTraining.builder().dictionarySize(8).backend(reference);
    assertThatThrownBy(() -> b.backend(new io.crosscoder.testing.ReferenceBackend()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("the backend was already chosen (instance of " + reference.name() + "); choose it once");
    // The failed second choice changed nothing: the builder still builds with the first.
    assertThat(b.build()).isNotNull();
  }

  @Test
  void aRejectedValueLeavesTheBuilderAsItWas() {
    CrosscoderTraining.Builder b = CrosscoderTraining.builder().dictionarySize(64).steps(300).learningRate(2e-3);
    assertThatThrownBy(() -> b.steps(-5)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> b.learningRate(-1)).isInstanceOf(IllegalArgumentException.class);
    CrosscoderTraining t = b.build();
    assertThat(t.config().steps()).isEqualTo(300);
    assertThat(t.config().learningRate()).isEqualTo(2e-3f);
    assertThat(t.config().dictionarySize()).isEqualTo(64);
    assertThat(t.normalisation()).isEqualTo(Normalisation.Kind.SCALE);
  }
}
