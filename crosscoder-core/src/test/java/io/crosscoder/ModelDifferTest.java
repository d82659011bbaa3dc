package io.crosscoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.metric.WeightMetric;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.GroupDiff;
import io.crosscoder.report.LineageVerdict;
import io.crosscoder.report.TensorDiff;
import io.crosscoder.tensor.DType;
import io.crosscoder.testing.InMemoryCheckpoint;
import io.crosscoder.testing.ReferenceBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The engine and analysis against numbers the test computes itself from the arrays it planted:
 * six layers, target = base + noise whose scale grows tenfold in the last two layers.
 */
class ModelDifferTest {
  private static final int LAYERS = 6;
  private static final String[] KINDS = {"self_attn.q_proj.weight", "mlp.up_proj.weight", "input_layernorm.weight"};
  private static final long[][] SHAPES = {{64, 64}, {128, 64}, {64}};

  private final List<float[]> baseValues = new ArrayList<>();
  private final List<float[]> targetValues = new ArrayList<>();
  private final List<Integer> layerOf = new ArrayList<>();

  private static double noiseScale(int layer) {
    return layer >= 4 ? 0.1 : 0.01;
  }

  private void fill(InMemoryCheckpoint b, InMemoryCheckpoint t, boolean unrelated) {
    Random rnd = new Random(42);
    for (int l = 0; l < LAYERS; l++) {
      for (int k = 0; k < KINDS.length; k++) {
        long[] shape = SHAPES[k];
        int n = (int) (shape.length == 2 ? shape[0] * shape[1] : shape[0]);
        float[] a = new float[n];
        float[] c = new float[n];
        for (int i = 0; i < n; i++) {
          a[i] = (float) rnd.nextGaussian();
          c[i] = unrelated ? (float) rnd.nextGaussian() : (float) (a[i] + noiseScale(l) * rnd.nextGaussian());
        }
        String name = "model.layers." + l + "." + KINDS[k];
        b.add(name, DType.F32, shape, a);
        t.add(name, DType.F32, shape, c);
        baseValues.add(a);
        targetValues.add(c);
        layerOf.add(l);
      }
    }
  }

  @Test
  void layerGroupsPoolTheirTensorsAndFindingsNameTheLateBand() throws Exception {
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target")) {
      fill(b, t, false);
      DiffReport r = ModelDiffer.builder().backend(new ReferenceBackend()).threads(3).build().compare(b, t);

      assertThat(r.tensors()).hasSize(LAYERS * KINDS.length);
      for (int l = 0; l < LAYERS; l++) {
        double dd = 0;
        double aa = 0;
        double ab = 0;
        double bb = 0;
        for (int i = 0; i < layerOf.size(); i++) {
          if (layerOf.get(i) != l) {
            continue;
          }
          float[] a = baseValues.get(i);
          float[] c = targetValues.get(i);
          for (int j = 0; j < a.length; j++) {
            double d = (double) (c[j] - a[j]);
            dd += d * d;
            aa += (double) a[j] * a[j];
            bb += (double) c[j] * c[j];
            ab += (double) a[j] * c[j];
          }
        }
        GroupDiff g = r.byLayer().get(l);
        assertThat(g.layer()).hasValue(l);
        assertThat(g.metric("relative_change")).isCloseTo(Math.sqrt(dd / aa), within(1e-9));
        assertThat(g.metric("cosine")).isCloseTo(ab / Math.sqrt(aa * bb), within(1e-9));
      }
      assertThat(r.bands()).extracting(band -> band.name()).containsExactly("early", "middle", "late");
      assertThat(r.bands().get(2).firstLayer()).isEqualTo(4);
      assertThat(r.lineage().kind()).isEqualTo(LineageVerdict.Kind.DERIVED);
      assertThat(r.findings()).anySatisfy(f -> assertThat(f.text()).contains("concentrates in the late layers"));
      assertThat(r.findings()).anySatisfy(f -> assertThat(f.text()).containsPattern("^Layer [45] changed most"));

      JsonNode json = new ObjectMapper().readTree(r.toJson());
      assertThat(json.get("schema").asText()).isEqualTo(DiffReport.JSON_SCHEMA);
      JsonNode first = json.get("tensors").get(0);
      assertThat(first.get("name").asText()).isEqualTo("model.layers.0.self_attn.q_proj.weight");
      assertThat(first.get("layer").asInt()).isZero();
      assertThat(first.get("kind").asText()).isEqualTo("self_attn.q_proj.weight");
      assertThat(first.get("metrics").get("cosine").asDouble()).isEqualTo(r.tensors().get(0).metric("cosine"));
      assertThat(json.get("only_in_base").isArray()).isTrue();
      assertThat(json.get("shape_mismatches").isArray()).isTrue();
      assertThat(r.toCsv().lines().count()).isEqualTo(1 + LAYERS * KINDS.length);
      assertThat(r.toMarkdown()).contains("## Findings", "## By layer", "| late | 4–5 |");
    }
  }

  @Test
  void independentlyDrawnWeightsAreUnrelated() {
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target")) {
      fill(b, t, true);
      DiffReport r = ModelDiffer.builder().backend(new ReferenceBackend()).build().compare(b, t);
      assertThat(r.lineage().kind()).isEqualTo(LineageVerdict.Kind.UNRELATED);
      assertThat(r.lineage().matrices()).isEqualTo(LAYERS * 2);
    }
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target")) {
      Random rnd = new Random(1);
      for (int l = 0; l < 4; l++) {
        float[] x = new float[64 * 64];
        float[] y = new float[64 * 64];
        for (int i = 0; i < x.length; i++) {
          x[i] = (float) rnd.nextGaussian();
          y[i] = (float) rnd.nextGaussian();
        }
        b.add("model.layers." + l + ".mlp.up_proj.weight", DType.BF16, new long[] {64, 64}, x);
        t.add("model.layers." + l + ".mlp.up_proj.weight", DType.BF16, new long[] {64, 64}, y);
      }
      DiffReport r = ModelDiffer.builder().backend(new ReferenceBackend()).build().compare(b, t);
      assertThat(r.lineage().kind()).isEqualTo(LineageVerdict.Kind.UNRELATED);
      assertThat(r.lineage().medianCosine()).isBetween(-0.1, 0.1);
      assertThat(r.findings().get(0).text()).contains("not a fine-tune of this base");
    }
  }

  @Test
  void customMetricIsComputedPerTensorAndPerGroup() {
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target")) {
      b.add("model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {2, 2}, new float[] {1, 2, 3, 4});
      t.add("model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {2, 2}, new float[] {1, 2, 3, 6});
      WeightMetric rms = WeightMetric.of("rms_change", "root mean square of B - A",
          s -> Math.sqrt(s.diffSquares() / s.count()));
      DiffReport r = ModelDiffer.builder().backend(new ReferenceBackend()).metric(rms).build().compare(b, t);
      TensorDiff d = r.tensors().get(0);
      assertThat(d.metric("rms_change")).isCloseTo(Math.sqrt(4.0 / 4), within(1e-12));
      assertThat(d.metric("max_abs_diff")).isEqualTo(2.0);
      assertThat(d.metric("changed_fraction")).isEqualTo(0.25);
      assertThat(d.metric("row_cosine_min")).isCloseTo((9 + 24) / (5 * Math.sqrt(45)), within(1e-12));
      assertThat(r.byLayer().get(0).metric("rms_change")).isCloseTo(1.0, within(1e-12));
      assertThat(r.toJson()).contains("\"rms_change\"");
    }
  }

  @Test
  void builderRejectsBadArgumentsAtOnce() {
    assertThatThrownBy(() -> ModelDiffer.builder().threads(0)).hasMessageContaining("at least 1");
    assertThatThrownBy(() -> ModelDiffer.builder().parameters("(")).hasMessageContaining("regular expression");
    assertThatThrownBy(() -> ModelDiffer.builder().metric(io.crosscoder.metric.WeightMetrics.COSINE))
        .hasMessageContaining("already configured");
  }

  @Test
  void parameterFilterThatMatchesNothingIsAnError() {
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target")) {
      b.add("a", DType.F32, new long[] {1}, new float[] {1});
      t.add("a", DType.F32, new long[] {1}, new float[] {1});
      assertThatThrownBy(() -> ModelDiffer.builder().backend(new ReferenceBackend()).parameters("zzz").build()
          .compare(b, t)).isInstanceOf(InvalidInputException.class).hasMessageContaining("zzz");
    }
  }
}
