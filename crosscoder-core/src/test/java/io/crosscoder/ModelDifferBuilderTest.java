package io.crosscoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.backend.ComputeBackends;
import io.crosscoder.metric.WeightMetric;
import io.crosscoder.metric.WeightMetrics;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.TensorDiff;
import io.crosscoder.tensor.DType;
import io.crosscoder.testing.InMemoryCheckpoint;
import io.crosscoder.testing.ReferenceBackend;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The rules of {@link ModelDiffer.Builder} for setters that could undo one another: the backend is
 * chosen once, and {@code metrics(List)} comes once and before {@code metric(...)}. Choosing a
 * backend by name is tested in crosscoder-cpu, where a provider is on the class path.
 */
class ModelDifferBuilderTest {
  private static final WeightMetric RMS = WeightMetric.of("rms_change", "root mean square of B - A",
      s -> Math.sqrt(s.diffSquares() / s.count()));

  @Test
  void theBackendIsChosenOnceByNameOrInstance() {
    ReferenceBackend reference = new ReferenceBackend();
    assertThatThrownBy(() -> ModelDiffer.builder().backend(reference).backend(new ReferenceBackend()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("the backend was already chosen (instance of " + reference.name() + "); choose it once");
    // A name that no provider has is refused at once, naming it and listing what there is.
    assertThatThrownBy(() -> ModelDiffer.builder().backend("tpu")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("no compute backend named 'tpu'. " + ComputeBackends.describeAvailable());
    assertThatThrownBy(() -> ModelDiffer.builder().backend("  ")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("backend name is blank. " + ComputeBackends.describeAvailable());
    // After an instance, even a name is a second choice.
    assertThatThrownBy(() -> ModelDiffer.builder().backend(reference).backend("cpu"))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("already chosen");
  }

  @Test
  void metricsListComesOnceAndBeforeMetric() {
    assertThatThrownBy(() -> ModelDiffer.builder().metric(RMS).metrics(List.of(WeightMetrics.COSINE)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("metric(...) was called before it");
    assertThatThrownBy(() -> ModelDiffer.builder().metrics(List.of(WeightMetrics.COSINE))
        .metrics(List.of(WeightMetrics.RELATIVE_CHANGE)))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("already called");
    assertThatThrownBy(() -> ModelDiffer.builder().metrics(List.of(RMS, RMS)))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("metric 'rms_change' is listed twice");
  }

  @Test
  void metricsListThenMetricComputesBothAndTheRequiredOnes() {
    ModelDiffer differ = ModelDiffer.builder().backend(new ReferenceBackend())
        .metrics(List.of(WeightMetrics.COSINE)).metric(RMS).build();
    assertThat(differ.metrics()).extracting(WeightMetric::name)
        .containsExactly("cosine", "relative_change", "changed_fraction", "rms_change");
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target")) {
      b.add("model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {2, 2}, new float[] {1, 2, 3, 4});
      t.add("model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {2, 2}, new float[] {1, 2, 3, 6});
      DiffReport r = differ.compare(b, t);
      TensorDiff d = r.tensors().get(0);
      // B - A = (0, 0, 0, 2): |B - A|^2 / n = 1; cosine = (1 + 4 + 9 + 24) / (sqrt(30) sqrt(50)).
      assertThat(d.metric("rms_change")).isCloseTo(1.0, within(1e-12));
      assertThat(d.metric("cosine")).isCloseTo(38 / Math.sqrt(30 * 50), within(1e-12));
      assertThat(d.metric("relative_change")).isCloseTo(2 / Math.sqrt(30), within(1e-12));
    }
  }

  @Test
  void singleValueSettersMayBeCalledAgainAndTheLastWins() {
    ModelDiffer.Builder b = ModelDiffer.builder().backend(new ReferenceBackend()).threads(7).threads(2);
    // A rejected value leaves the previous one in place.
    assertThatThrownBy(() -> b.threads(0)).isInstanceOf(IllegalArgumentException.class);
    try (var base = new InMemoryCheckpoint("base"); var target = new InMemoryCheckpoint("target")) {
      base.add("model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {2}, new float[] {1, 2});
      target.add("model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {2}, new float[] {1, 3});
      assertThat(b.build().compare(base, target).threads()).isEqualTo(2);
    }
  }
}
