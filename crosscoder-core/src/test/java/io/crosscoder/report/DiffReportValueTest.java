package io.crosscoder.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.ModelDiffer;
import io.crosscoder.align.LayerMapping;
import io.crosscoder.metric.WeightMetric;
import io.crosscoder.metric.WeightMetrics;
import io.crosscoder.tensor.DType;
import io.crosscoder.testing.InMemoryCheckpoint;
import io.crosscoder.testing.ReferenceBackend;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link DiffReport} and the records in it are values: equality by content (arrays included), and
 * the run's timing left out, so the same comparison run twice gives equal reports.
 */
class DiffReportValueTest {
  private static DiffReport run() {
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target")) {
      Random rnd = new Random(5);
      for (int l = 0; l < 3; l++) {
        float[] a = new float[32 * 16];
        float[] c = new float[a.length];
        for (int i = 0; i < a.length; i++) {
          a[i] = (float) rnd.nextGaussian();
          c[i] = a[i] + (float) (0.05 * rnd.nextGaussian());
        }
        b.add("model.layers." + l + ".mlp.up_proj.weight", DType.F32, new long[] {32, 16}, a);
        t.add("model.layers." + l + ".mlp.up_proj.weight", DType.F32, new long[] {32, 16}, c);
      }
      b.add("model.only_base.weight", DType.F32, new long[] {2, 3}, new float[6]);
      return ModelDiffer.builder().backend(new ReferenceBackend()).threads(2).build().compare(b, t);
    }
  }

  private static DiffReport withSeconds(DiffReport r, double seconds) {
    return r.withSeconds(seconds);
  }

  @Test
  void theSameComparisonTwiceGivesEqualReports() {
    DiffReport first = run();
    DiffReport second = run();
    // Separate runs: separate arrays in every TensorDiff and Unpaired, and their own timing.
    assertThat(second).isEqualTo(first).hasSameHashCodeAs(first);
    assertThat(second.tensors().get(0)).isNotSameAs(first.tensors().get(0));
    assertThat(first.onlyInBase()).hasSize(1);
  }

  @Test
  void timingIsNotPartOfEqualityButStaysAvailable() {
    DiffReport r = run();
    DiffReport slow = withSeconds(r, 1000);
    DiffReport fast = withSeconds(r, 0.5);
    assertThat(slow).isEqualTo(fast).hasSameHashCodeAs(fast);
    assertThat(slow.seconds()).isEqualTo(1000);
    assertThat(fast.gigabytesPerSecond()).isEqualTo(r.bytesRead() / 0.5 / 1e9);
    // Any other component still counts.
    DiffReport otherThreads = new DiffReport(r.base(), r.target(), r.backend(), r.threads() + 1, r.seconds(),
        r.bytesRead(), r.metrics(), r.tensors(), r.byLayerKind(), r.byLayer(), r.byKind(), r.bands(), r.overall(),
        r.onlyInBase(), r.onlyInTarget(), r.shapeMismatches(), r.alignmentNotes(), r.layerMapping().orElse(null),
        r.lineage(), r.findings(), r.spectral().orElse(null));
    assertThat(otherThreads).isNotEqualTo(r);
  }

  @Test
  void recordsWithArraysCompareByContent() {
    TensorDiff a = new TensorDiff("w", Optional.empty(), OptionalInt.of(0), "mlp.up_proj.weight", new long[] {4, 2}, "F32", "F32", false, false,
        Map.of("cosine", 0.5, "max_abs_diff", Double.NaN), 4, 1, List.of(new TensorDiff.RowChange(3, 0.1)), 0, Optional.empty());
    TensorDiff b = new TensorDiff("w", Optional.empty(), OptionalInt.of(0), "mlp.up_proj.weight", new long[] {4, 2}, "F32", "F32", false, false,
        Map.of("cosine", 0.5, "max_abs_diff", Double.NaN), 4, 1, List.of(new TensorDiff.RowChange(3, 0.1)), 0, Optional.empty());
    TensorDiff wider = new TensorDiff("w", Optional.empty(), OptionalInt.of(0), "mlp.up_proj.weight", new long[] {4, 3}, "F32", "F32", false,
        false, Map.of("cosine", 0.5, "max_abs_diff", Double.NaN), 4, 1, List.of(new TensorDiff.RowChange(3, 0.1)), 0,
        Optional.empty());
    assertThat(a).isEqualTo(b).hasSameHashCodeAs(b).isNotEqualTo(wider);
    assertThat(a.toString()).contains("shape=[4, 2]");
    assertThat(new Unpaired("x", new long[] {2}, null, "F32")).isEqualTo(new Unpaired("x", new long[] {2}, null, "F32"))
        .isNotEqualTo(new Unpaired("x", null, new long[] {2}, "F32"));
    LayerMapping m1 = new LayerMapping(2, 1, new int[] {1}, new double[][] {{0.1, 0.9}}, 0.9, 0.1);
    LayerMapping m2 = new LayerMapping(2, 1, new int[] {1}, new double[][] {{0.1, 0.9}}, 0.9, 0.1);
    assertThat(m1).isEqualTo(m2).hasSameHashCodeAs(m2)
        .isNotEqualTo(new LayerMapping(2, 1, new int[] {0}, new double[][] {{0.1, 0.9}}, 0.9, 0.1));
  }

  @Test
  void absenceIsOptionalAndArraysAreNotShared() {
    DiffReport r = run();
    // Same depths, no spectral analysis: both absent, not null.
    assertThat(r.layerMapping()).isEmpty();
    assertThat(r.spectral()).isEmpty();
    TensorDiff t = r.tensors().get(0);
    assertThat(t.layer()).hasValue(0);
    assertThat(t.targetName()).isEmpty();
    assertThat(t.note()).isEmpty();
    assertThat(r.overall().layer()).isEmpty();
    assertThat(r.overall().kind()).isEmpty();
    assertThat(r.byLayer().get(2).layer()).hasValue(2);
    assertThat(r.byKind().get(0).kind()).hasValue("mlp.up_proj.weight");
    // The shape handed out is a copy: writing to it changes neither the report nor the next copy.
    long[] shape = t.shape();
    shape[0] = 999;
    assertThat(t.shape()).containsExactly(32, 16);
    assertThat(r).isEqualTo(run());
    long[] given = {4, 2};
    TensorDiff built = new TensorDiff("w", Optional.of("w2"), OptionalInt.empty(), "k", given, "F32", "F32", false,
        false, Map.of(), 0, 0, List.of(), 0, Optional.of("tied"));
    given[0] = 7;
    assertThat(built.shape()).containsExactly(4, 2);
    assertThat(built.toString()).contains("targetName=w2", "layer=null", "note=tied");
  }

  @Test
  void typedMetricKeysReadTheSameValuesAsTheirNames() {
    DiffReport r = run();
    for (TensorDiff t : r.tensors()) {
      for (WeightMetric m : WeightMetrics.defaults()) {
        assertThat(t.metric(m)).isEqualTo(t.metric(m.name()));
      }
      // Independent oracle: relative change from the two norms the report also holds.
      assertThat(t.metric(WeightMetrics.RELATIVE_CHANGE))
          .isCloseTo(t.metric(WeightMetrics.DIFF_NORM) / t.metric(WeightMetrics.BASE_NORM), within(1e-12));
    }
    assertThat(r.overall().metric(WeightMetrics.COSINE)).isEqualTo(r.overall().metric("cosine")).isBetween(0.99, 1.0);
    assertThat(r.overall().metric(WeightMetric.of("custom", "absent here", s -> 0))).isNaN();
  }
}
