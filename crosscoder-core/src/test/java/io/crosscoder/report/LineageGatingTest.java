package io.crosscoder.report;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.ModelDiffer;
import io.crosscoder.tensor.DType;
import io.crosscoder.testing.InMemoryCheckpoint;
import io.crosscoder.testing.ReferenceBackend;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The lineage verdict gates the findings: between unrelated models the depth narrative is left
 * out and the tables are marked; between a base and its fine-tune it stays. The norm ratio the
 * unrelated finding quotes is checked against the planted arrays' own f64 norms.
 */
class LineageGatingTest {
  private static final int LAYERS = 6;
  private static final int N = 64;

  /** Base: N(0, 1); target: 3 N(0, 1) drawn independently, except the matrices of {@code sharedLayer}, which are copied. */
  private static double[] fill(InMemoryCheckpoint b, InMemoryCheckpoint t, boolean related, int sharedLayer) {
    Random rnd = new Random(7);
    double aa = 0;
    double bb = 0;
    for (int l = 0; l < LAYERS; l++) {
      for (String kind : new String[] {"self_attn.q_proj.weight", "mlp.up_proj.weight"}) {
        float[] x = new float[N * N];
        float[] y = new float[N * N];
        for (int i = 0; i < x.length; i++) {
          x[i] = (float) rnd.nextGaussian();
          // Later layers move more, so a depth narrative exists to be gated.
          y[i] = related ? (float) (x[i] + (l >= 4 ? 0.2 : 0.02) * rnd.nextGaussian())
              : l == sharedLayer ? x[i] : (float) (3 * rnd.nextGaussian());
          aa += (double) x[i] * x[i];
          bb += (double) y[i] * y[i];
        }
        b.add("model.layers." + l + "." + kind, DType.F32, new long[] {N, N}, x);
        t.add("model.layers." + l + "." + kind, DType.F32, new long[] {N, N}, y);
      }
    }
    return new double[] {aa, bb};
  }

  @Test
  void unrelatedModelsGetNoDepthNarrativeButTheNormRatioAndMarkedTables() throws Exception {
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target")) {
      double[] norms = fill(b, t, false, -1);
      DiffReport r = ModelDiffer.builder().backend(new ReferenceBackend()).build().compare(b, t);
      assertThat(r.lineage().kind()).isEqualTo(LineageVerdict.Kind.UNRELATED);
      assertThat(r.lineage().gatesFindings()).isTrue();

      assertThat(r.findings()).noneSatisfy(f -> assertThat(f.text()).containsAnyOf(
          "The change concentrates", "spread evenly over depth", "changed most (relative change",
          "Among parameter kinds", "Most changed tensors:", "rows (tokens) have cosine", "the weights moved by"));
      String rho = String.format(Locale.ROOT, "%.4g", Math.sqrt(norms[1] / norms[0]));
      assertThat(Double.parseDouble(rho)).isBetween(2.95, 3.05);
      assertThat(r.findings()).anySatisfy(f -> {
        assertThat(f.severity()).isEqualTo(Finding.Severity.WARNING);
        assertThat(f.text()).contains("not a change", "left out", "norm is " + rho + " times the base's",
            "crosscoder lineage");
      });
      // |B-A|/|A| = sqrt(1 + rho^2 - 2 rho cos): with cos near 0 and rho = 3, near sqrt(10).
      assertThat(r.overall().metric("relative_change")).isBetween(Math.sqrt(10) - 0.05, Math.sqrt(10) + 0.05);

      String md = r.toMarkdown();
      assertThat(md).contains("## By layer", "## By band", "## Largest differences")
          .doesNotContain("## Most changed tensors");
      // One mark per table: band, layer, kind, largest differences, every tensor.
      assertThat(md.split("\\*\\*Not a change:\\*\\*", -1)).hasSize(6);

      JsonNode lineage = new ObjectMapper().readTree(r.toJson()).get("lineage");
      assertThat(lineage.get("verdict").asText()).isEqualTo("unrelated");
      assertThat(lineage.get("depth_findings").asBoolean()).isFalse();
      assertThat(lineage.get("table_caveat").asText()).contains("ratio of norms");
    }
  }

  @Test
  void sharedMatricesOfUnrelatedModelsAreNamed() {
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target")) {
      fill(b, t, false, 2);
      DiffReport r = ModelDiffer.builder().backend(new ReferenceBackend()).build().compare(b, t);
      assertThat(r.lineage().kind()).isEqualTo(LineageVerdict.Kind.UNRELATED);
      assertThat(r.findings()).anySatisfy(f -> assertThat(f.text()).startsWith("2 matrices nevertheless have cosine")
          .contains("model.layers.2.self_attn.q_proj.weight (1.000000)", "model.layers.2.mlp.up_proj.weight"));
      assertThat(r.findings()).anySatisfy(f -> assertThat(f.text()).startsWith("2 of 12 tensors are bit-identical"));
    }
  }

  @Test
  void aFineTuneKeepsItsNarrativeAndUnmarkedTables() throws Exception {
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target")) {
      fill(b, t, true, -1);
      DiffReport r = ModelDiffer.builder().backend(new ReferenceBackend()).build().compare(b, t);
      assertThat(r.lineage().kind()).isEqualTo(LineageVerdict.Kind.DERIVED);
      assertThat(r.lineage().gatesFindings()).isFalse();
      assertThat(r.findings()).anySatisfy(f -> assertThat(f.text()).contains("concentrates in the late layers"));
      assertThat(r.toMarkdown()).contains("## Most changed tensors").doesNotContain("Not a change");
      JsonNode lineage = new ObjectMapper().readTree(r.toJson()).get("lineage");
      assertThat(lineage.get("depth_findings").asBoolean()).isTrue();
      assertThat(lineage.get("table_caveat").isNull()).isTrue();
    }
  }

  @Test
  void anInconclusiveMixSaysWhichMatricesWereKept() {
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target")) {
      Random rnd = new Random(3);
      // Layers 0-2 kept (fine-tuned), layers 3-5 re-initialised: half the weights similar.
      for (int l = 0; l < LAYERS; l++) {
        float[] x = new float[N * N];
        float[] y = new float[N * N];
        for (int i = 0; i < x.length; i++) {
          x[i] = (float) rnd.nextGaussian();
          y[i] = l < 3 ? (float) (x[i] + 0.05 * rnd.nextGaussian()) : (float) rnd.nextGaussian();
        }
        b.add("model.layers." + l + ".mlp.up_proj.weight", DType.F32, new long[] {N, N}, x);
        t.add("model.layers." + l + ".mlp.up_proj.weight", DType.F32, new long[] {N, N}, y);
      }
      DiffReport r = ModelDiffer.builder().backend(new ReferenceBackend()).build().compare(b, t);
      assertThat(r.lineage().kind()).isEqualTo(LineageVerdict.Kind.INCONCLUSIVE);
      assertThat(r.lineage().similarShare()).isEqualTo(0.5);
      assertThat(r.findings()).anySatisfy(f -> assertThat(f.text()).contains("pool 3 matrices kept from the base",
          "with 3 that are not", "model.layers.3.mlp.up_proj.weight"));
    }
  }

  @Test
  void judgeAppliesTheRuleToGivenCosines() {
    var derived = LineageVerdict.judge(java.util.List.of(
        new LineageVerdict.MatrixCosine("a", 800, 0.99), new LineageVerdict.MatrixCosine("b", 200, 0.1)), "w");
    assertThat(derived.kind()).isEqualTo(LineageVerdict.Kind.DERIVED);
    assertThat(derived.similarShare()).isEqualTo(0.8);
    assertThat(derived.medianCosine()).isCloseTo(0.545, org.assertj.core.api.Assertions.within(1e-12));
    var unrelated = LineageVerdict.judge(java.util.List.of(
        new LineageVerdict.MatrixCosine("a", 100, 0.9), new LineageVerdict.MatrixCosine("b", 900, 0.0),
        new LineageVerdict.MatrixCosine("c", 900, 0.01)), "w");
    assertThat(unrelated.kind()).isEqualTo(LineageVerdict.Kind.UNRELATED);
    assertThat(LineageVerdict.judge(java.util.List.of(), "w").kind()).isEqualTo(LineageVerdict.Kind.INCONCLUSIVE);
  }
}
