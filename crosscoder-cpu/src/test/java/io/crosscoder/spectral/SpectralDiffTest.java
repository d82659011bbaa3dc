package io.crosscoder.spectral;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.ModelDiffer;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackends;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.GroupDiff;
import io.crosscoder.report.TensorDiff;
import io.crosscoder.tensor.DType;
import io.crosscoder.testing.InMemoryCheckpoint;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The spectral analysis inside a weight diff on the CPU backend: eight layers whose first half is
 * fine-tuned with full-rank noise and whose second half gets a planted rank-4 update (a LoRA
 * merged into the weights). The report must find the low-rank run, pool the metrics per layer, and
 * render them in every format.
 */
class SpectralDiffTest {
  private static final int LAYERS = 8;
  private static final String[] KINDS = {"self_attn.q_proj.weight", "mlp.up_proj.weight"};
  private static final int[][] SHAPES = {{96, 96}, {192, 96}};

  private static void fill(InMemoryCheckpoint b, InMemoryCheckpoint t, Random rnd) {
    for (int l = 0; l < LAYERS; l++) {
      for (int k = 0; k < KINDS.length; k++) {
        int m = SHAPES[k][0];
        int n = SHAPES[k][1];
        float[] a = new float[m * n];
        float[] c = new float[m * n];
        for (int i = 0; i < a.length; i++) {
          a[i] = (float) (0.02 * rnd.nextGaussian());
        }
        if (l < LAYERS / 2) {
          for (int i = 0; i < a.length; i++) {
            c[i] = (float) (a[i] + 0.002 * rnd.nextGaussian());
          }
        } else {
          // Rank 4: sum of four outer products u_r v_r^T.
          double[][] u = new double[4][m];
          double[][] v = new double[4][n];
          for (int r = 0; r < 4; r++) {
            for (int i = 0; i < m; i++) {
              u[r][i] = 0.01 * rnd.nextGaussian();
            }
            for (int j = 0; j < n; j++) {
              v[r][j] = rnd.nextGaussian();
            }
          }
          for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
              double d = 0;
              for (int r = 0; r < 4; r++) {
                d += u[r][i] * v[r][j];
              }
              c[i * n + j] = (float) (a[i * n + j] + d);
            }
          }
        }
        String name = "model.layers." + l + "." + KINDS[k];
        b.add(name, DType.F32, new long[] {m, n}, a);
        t.add(name, DType.F32, new long[] {m, n}, c);
      }
    }
  }

  @Test
  void findsTheLowRankLayersAndReportsTheSpectrum() throws Exception {
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target");
        ComputeBackend cpu = ComputeBackends.select("cpu").create()) {
      fill(b, t, new Random(17));
      DiffReport r = ModelDiffer.builder().backend(cpu).spectral(SpectralOptions.DEFAULTS.withEnergyEpsilon(1e-3))
          .build().compare(b, t);
      for (TensorDiff d : r.tensors()) {
        if (d.layer().getAsInt() >= LAYERS / 2) {
          assertThat(d.metric("energy_rank")).as(d.name()).isEqualTo(4.0);
          assertThat(d.metric("energy_captured")).as(d.name()).isGreaterThan(0.9999);
        } else {
          assertThat(d.metric("energy_rank")).as(d.name()).isInfinite();
        }
        assertThat(d.metric("sigma_max")).isPositive();
        assertThat(d.metric("stable_rank")).isGreaterThanOrEqualTo(1.0);
        // A small change keeps the dominant directions of A.
        assertThat(d.metric("subspace_overlap")).as(d.name()).isGreaterThan(0.5);
      }
      GroupDiff layer5 = r.byLayer().get(5);
      assertThat(layer5.metric("energy_rank")).isEqualTo(4.0);
      assertThat(layer5.metric("sigma_max")).isEqualTo(Math.max(r.tensors().get(10).metric("sigma_max"),
          r.tensors().get(11).metric("sigma_max")));
      assertThat(r.byLayer().get(1).metric("energy_rank")).isInfinite();
      assertThat(r.findings()).anySatisfy(f -> assertThat(f.text())
          .startsWith("The update of layers 4-7 has energy rank <= 4: there it looks like a low-rank fine-tune"));
      assertThat(r.findings()).anySatisfy(f -> assertThat(f.text()).startsWith("The top-16 left singular subspaces"));

      String md = r.toMarkdown();
      assertThat(md).contains("## Spectral structure of the change", "| 5 | 2 |", "> 32", "`mlp.up_proj.weight`");
      JsonNode json = new ObjectMapper().readTree(r.toJson());
      assertThat(json.get("spectral").get("sketch_size").asInt()).isEqualTo(32);
      JsonNode first = json.get("tensors").get(0).get("metrics");
      assertThat(first.get("energy_rank").isNull()).isTrue();
      assertThat(json.get("tensors").get(15).get("metrics").get("energy_rank").asDouble()).isEqualTo(4.0);
      assertThat(r.toCsv().lines().findFirst().orElseThrow()).contains("sigma_max", "energy_rank", "subspace_overlap");
    }
  }

  @Test
  void withoutTheOptionThereIsNoSpectrum() {
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target");
        ComputeBackend cpu = ComputeBackends.select("cpu").create()) {
      fill(b, t, new Random(18));
      DiffReport r = ModelDiffer.builder().backend(cpu).build().compare(b, t);
      assertThat(r.spectral()).isEmpty();
      assertThat(r.tensors().get(0).metric("energy_rank")).isNaN();
      assertThat(r.toMarkdown()).doesNotContain("Spectral structure");
    }
  }
}
