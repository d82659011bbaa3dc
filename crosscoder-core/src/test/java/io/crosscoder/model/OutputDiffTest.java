package io.crosscoder.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.InvalidInputException;
import io.crosscoder.model.FakeModels.ClosedFormModel;
import io.crosscoder.model.FakeModels.WordTokenizer;
import io.crosscoder.report.ReportFormat;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class OutputDiffTest {
  private static final int V = 1000;
  private static final String[] TEXTS = {"the cat sat on the mat", "a dog barks", "every good boy deserves fudge",
      "zebras eat grass quietly", "on and on"};

  /** A closed-form model with a head: logit v of row x is sum_j x_j * sin(0.37 v + 1.3 j) * headScale. */
  static final class HeadModel extends ClosedFormModel {
    final double headScale;

    HeadModel(String name, float scale, double headScale) {
      super(name, 3, 4, scale, new WordTokenizer(name, false), 64);
      this.headScale = headScale;
    }

    @Override
    public boolean hasLanguageModelHead() {
      return true;
    }

    @Override
    public float[] logitLens(float[] x, int rows) {
      float[] out = new float[rows * V];
      for (int r = 0; r < rows; r++) {
        for (int v = 0; v < V; v++) {
          out[r * V + v] = (float) logit(x, r * 4, v, headScale);
        }
      }
      return out;
    }

    static double logit(float[] x, int o, int v, double headScale) {
      double s = 0;
      for (int j = 0; j < 4; j++) {
        s += x[o + j] * Math.sin(0.37 * v + 1.3 * j);
      }
      return s * headScale;
    }
  }

  @Test
  void perTokenKlAndTheDifferenceLensMatchAPlainFloat64Computation() {
    HeadModel a = new HeadModel("a", 0.1f, 1.0);
    HeadModel b = new HeadModel("b", 0.1f, 1.3);
    OutputDiff.Result r = OutputDiff.builder().base(a).target(b).text(FakeModels.corpus(TEXTS)).batchSequences(2)
        .lensPositions(2).largest(3).build().run();
    // The oracle: every sequence is [CLS] words [SEP]; both models' last-block rows are closed forms.
    WordTokenizer tok = new WordTokenizer("t", false);
    List<Double> kls = new ArrayList<>();
    double[][] diff = new double[3][4];
    long[] count = new long[3];
    for (String text : TEXTS) {
      List<Integer> ids = new ArrayList<>(List.of(1));
      for (String w : text.split(" ")) {
        ids.add(tok.id(w));
      }
      ids.add(2);
      for (int t = 0; t < ids.size(); t++) {
        float[] xa = new float[4];
        float[] xb = new float[4];
        for (int j = 0; j < 4; j++) {
          xa[j] = (float) ClosedFormModel.value(0.1f, ids.get(t), t, j, 3);
          xb[j] = (float) ClosedFormModel.value(0.1f, ids.get(t), t, j, 3);
        }
        double[] pa = softmax(xa, 1.0);
        double[] pb = softmax(xb, 1.3);
        double kl = 0;
        for (int v = 0; v < V; v++) {
          kl += pb[v] * Math.log(pb[v] / pa[v]);
        }
        kls.add(kl);
      }
    }
    assertThat(r.positions()).isEqualTo(kls.size());
    assertThat(r.sequences()).isEqualTo(TEXTS.length);
    assertThat(r.meanKl()).isCloseTo(kls.stream().mapToDouble(Double::doubleValue).average().orElseThrow(), within(1e-5));
    double max = kls.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
    assertThat(r.maxKl()).isCloseTo(max, within(1e-5));
    assertThat(r.largest()).hasSize(3);
    assertThat(r.largest().get(0).kl()).isCloseTo(max, within(1e-5));
    assertThat(r.largest().get(0).kl()).isGreaterThanOrEqualTo(r.largest().get(2).kl());
    // Same activations in both models: the lens sees no difference at any block.
    assertThat(r.lens()).hasSize(3);
    for (OutputDiff.LensLayer l : r.lens()) {
      assertThat(l.meanDifferenceNorm()).containsOnly(0.0);
    }
    String md = OutputDiffReport.of("a", "b", "five texts", r, tok).render(ReportFormat.MARKDOWN);
    assertThat(md).contains("Where they disagree most").contains("Activation difference lens");
    assertThat(OutputDiffReport.of("a", "b", "five texts", r, tok).render(ReportFormat.JSON))
        .contains("\"schema\" : \"crosscoder.output-diff/1\"");
  }

  @Test
  void theLensAveragesTheDifferencePerPosition() {
    HeadModel a = new HeadModel("a", 1f, 1.0);
    HeadModel b = new HeadModel("b", 3f, 1.0);
    OutputDiff.Result r = OutputDiff.builder().base(a).target(b).text(FakeModels.corpus(TEXTS)).lensPositions(2)
        .build().run();
    WordTokenizer tok = new WordTokenizer("t", false);
    // Block 1 (blocks before = 2): x_b - x_a = 2 * (id + 0.5 t + 0.01 j + 2); position 0 is [CLS] (id 1) everywhere.
    double[] mean0 = new double[4];
    double[] mean1 = new double[4];
    for (String text : TEXTS) {
      int id1 = tok.id(text.split(" ")[0]);
      for (int j = 0; j < 4; j++) {
        mean0[j] += 2 * (1 + 0.01 * j + 2) / TEXTS.length;
        mean1[j] += 2 * (id1 + 0.5 + 0.01 * j + 2) / TEXTS.length;
      }
    }
    OutputDiff.LensLayer l1 = r.lens().get(1);
    assertThat(l1.meanDifferenceNorm()[0]).isCloseTo(norm(mean0), within(1e-4 * norm(mean0)));
    assertThat(l1.meanDifferenceNorm()[1]).isCloseTo(norm(mean1), within(1e-4 * norm(mean1)));
    // The promoted tokens are the base head's largest logits of the mean difference.
    float[] m = new float[4];
    for (int j = 0; j < 4; j++) {
      m[j] = (float) mean0[j];
    }
    int best = 0;
    for (int v = 1; v < V; v++) {
      if (HeadModel.logit(m, 0, v, 1.0) > HeadModel.logit(m, 0, best, 1.0)) {
        best = v;
      }
    }
    assertThat(l1.promoted()[0][0]).isEqualTo(best);
  }

  @Test
  void resultsAreValuesWhoseArraysAreNotShared() {
    HeadModel a = new HeadModel("a", 1f, 1.0);
    HeadModel b = new HeadModel("b", 3f, 1.3);
    OutputDiff.Result first = OutputDiff.builder().base(a).target(b).text(FakeModels.corpus(TEXTS)).batchSequences(2)
        .lensPositions(2).largest(3).build().run();
    OutputDiff.Result second = OutputDiff.builder().base(a).target(b).text(FakeModels.corpus(TEXTS))
        .batchSequences(2).lensPositions(2).largest(3).build().run();
    // Two runs over the same inputs: separate arrays, equal values.
    assertThat(second).isEqualTo(first).hasSameHashCodeAs(first);
    assertThat(second.lens().get(1)).isNotSameAs(first.lens().get(1)).isEqualTo(first.lens().get(1));
    // What the accessors hand out is a copy: writing to it leaves the value as it was.
    OutputDiff.LensLayer l = first.lens().get(1);
    double norm0 = l.meanDifferenceNorm()[0];
    int top = l.promoted()[0][0];
    l.meanDifferenceNorm()[0] = -1;
    l.promoted()[0][0] = -1;
    first.klQuantiles()[0] = -1;
    first.largest().get(0).sequenceIds()[0] = -1;
    assertThat(l.meanDifferenceNorm()[0]).isEqualTo(norm0).isPositive();
    assertThat(l.promoted()[0][0]).isEqualTo(top);
    assertThat(first).isEqualTo(second);
    int[] ids = {5, 6, 7};
    OutputDiff.Position p = new OutputDiff.Position(0.5, 0, 0, 1, ids, 5, 0.5, 6, 0.25);
    ids[0] = 9;
    assertThat(p.sequenceIds()).containsExactly(5, 6, 7);
    assertThat(p).isEqualTo(new OutputDiff.Position(0.5, 0, 0, 1, new int[] {5, 6, 7}, 5, 0.5, 6, 0.25))
        .isNotEqualTo(new OutputDiff.Position(0.5, 0, 0, 1, new int[] {5, 6, 8}, 5, 0.5, 6, 0.25));
  }

  @Test
  void refusesModelsWithoutAHeadOrOfAnotherShape() {
    ClosedFormModel plain = new ClosedFormModel("enc", 3, 4, 1, new WordTokenizer("e", false), 64);
    assertThatThrownBy(() -> OutputDiff.builder().base(plain).target(new HeadModel("b", 1, 1))
        .text(FakeModels.corpus("x")).build()).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("no language-model head");
    assertThatThrownBy(() -> OutputDiff.builder().base(new HeadModel("a", 1, 1)).build())
        .isInstanceOf(IllegalStateException.class);
  }

  private static double[] softmax(float[] x, double headScale) {
    double[] z = new double[V];
    double m = Double.NEGATIVE_INFINITY;
    for (int v = 0; v < V; v++) {
      z[v] = (float) HeadModel.logit(x, 0, v, headScale);
      m = Math.max(m, z[v]);
    }
    double s = 0;
    for (int v = 0; v < V; v++) {
      z[v] = Math.exp(z[v] - m);
      s += z[v];
    }
    for (int v = 0; v < V; v++) {
      z[v] /= s;
    }
    return z;
  }

  private static double norm(double[] v) {
    double s = 0;
    for (double x : v) {
      s += x * x;
    }
    return Math.sqrt(s);
  }
}
