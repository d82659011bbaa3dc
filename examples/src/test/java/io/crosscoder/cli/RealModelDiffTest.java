package io.crosscoder.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.ModelDiffer;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.checkpoint.CheckpointFormats;
import io.crosscoder.io.models.BundledModel;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.GroupDiff;
import io.crosscoder.report.LineageVerdict;
import io.crosscoder.report.TensorDiff;
import io.crosscoder.tensor.TensorView;
import org.junit.jupiter.api.Test;

/**
 * Diffs of the real models that Maven Central ships, checked against plain f64 loops over the
 * tensors read element by element (a path independent of the backend's fused pass). Tolerance 1e-6:
 * the backend sums f32 products in f32 within blocks of a row before folding into f64.
 */
class RealModelDiffTest {
  /** cos(A, B) by a plain double loop over logical rows. */
  static double cosine(TensorView a, TensorView b) {
    int cols = (int) a.columns();
    float[] x = new float[cols];
    float[] y = new float[cols];
    double ab = 0;
    double aa = 0;
    double bb = 0;
    for (long r = 0; r < a.rows(); r++) {
      a.readRow(r, 0, x, 0, cols);
      b.readRow(r, 0, y, 0, cols);
      for (int j = 0; j < cols; j++) {
        ab += (double) x[j] * y[j];
        aa += (double) x[j] * x[j];
        bb += (double) y[j] * y[j];
      }
    }
    return ab / Math.sqrt(aa * bb);
  }

  @Test
  void bgeV1AgainstV15IsAFineTuneWhoseLastLayerMovedMost() {
    try (Checkpoint v1 = CheckpointFormats.open(BundledModel.BGE_SMALL_EN.extract());
        Checkpoint v15 = CheckpointFormats.open(BundledModel.BGE_SMALL_EN_V15.extract())) {
      DiffReport r = ModelDiffer.builder().build().compare(v1, v15);
      assertThat(r.lineage().kind()).isEqualTo(LineageVerdict.Kind.DERIVED);
      assertThat(r.tensors()).hasSize(197);
      assertThat(r.onlyInBase()).isEmpty();
      assertThat(r.onlyInTarget()).isEmpty();
      for (String name : new String[] {"encoder.layer.11.output.dense.weight", "encoder.layer.0.attention.self.query.weight",
          "embeddings.word_embeddings.weight"}) {
        TensorDiff d = r.tensors().stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow();
        assertThat(d.metric("cosine")).as(name).isCloseTo(cosine(v1.tensor(name), v15.tensor(name)), within(1e-6));
      }
      GroupDiff top = r.byLayer().stream()
          .max(java.util.Comparator.comparingDouble(g -> g.metric("relative_change"))).orElseThrow();
      assertThat(top.layer()).hasValue(11);
      assertThat(r.findings()).anySatisfy(f -> assertThat(f.text()).startsWith("Layer 11 changed most"));
    }
  }

  @Test
  void quantizedSiblingShowsQuantizationErrorOnly() {
    try (Checkpoint fp = CheckpointFormats.open(BundledModel.E5_SMALL_V2.extract());
        Checkpoint q = CheckpointFormats.open(BundledModel.E5_SMALL_V2_Q.extract())) {
      DiffReport r = ModelDiffer.builder().build().compare(fp, q);
      assertThat(r.lineage().kind()).isEqualTo(LineageVerdict.Kind.DERIVED);
      long quantized = r.tensors().stream().filter(TensorDiff::targetQuantized).count();
      assertThat(quantized).isEqualTo(75);
      for (TensorDiff t : r.tensors()) {
        if (!t.targetQuantized()) {
          assertThat(t.metric("changed_fraction")).as(t.name()).isZero();
        }
      }
      String name = "encoder.layer.5.intermediate.dense.weight";
      TensorDiff d = r.tensors().stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow();
      assertThat(d.metric("cosine")).isCloseTo(cosine(fp.tensor(name), q.tensor(name)), within(1e-6));
      assertThat(r.findings()).anySatisfy(f -> assertThat(f.text()).contains("75 tensors are stored quantized"));
    }
  }

  @Test
  void sixLayerMiniLmMapsOntoEverySecondLayerOfE5() {
    try (Checkpoint e5 = CheckpointFormats.open(BundledModel.E5_SMALL_V2.extract());
        Checkpoint mini = CheckpointFormats.open(BundledModel.ALL_MINILM_L6_V2.extract())) {
      DiffReport r = ModelDiffer.builder().build().compare(e5, mini);
      int[] map = r.layerMapping().orElseThrow().targetToBase();
      assertThat(map).hasSize(6);
      for (int j = 0; j < 6; j++) {
        // Independent check: the mapped base layer is the most similar one for this kind, by a plain loop.
        String kind = ".attention.self.query.weight";
        TensorView student = mini.tensor("encoder.layer." + j + kind);
        int best = -1;
        double bestCos = -2;
        for (int i = 0; i < 12; i++) {
          double c = cosine(e5.tensor("encoder.layer." + i + kind), student);
          if (c > bestCos) {
            bestCos = c;
            best = i;
          }
        }
        assertThat(map[j]).as("target layer %d", j).isEqualTo(best);
      }
      assertThat(map).containsExactly(0, 2, 4, 6, 8, 10);
      assertThat(r.layerMapping().orElseThrow().meaningful()).isTrue();
      assertThat(r.onlyInBase()).allSatisfy(u -> assertThat(u.name()).matches("encoder\\.layer\\.(1|3|5|7|9|11)\\..*"));
    }
  }
}
