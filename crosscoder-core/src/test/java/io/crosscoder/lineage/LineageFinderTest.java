package io.crosscoder.lineage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.InvalidInputException;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.report.LineageVerdict;
import io.crosscoder.tensor.DType;
import io.crosscoder.testing.InMemoryCheckpoint;
import io.crosscoder.testing.ReferenceBackend;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Ranking candidate bases. The target is {@code P + 0.05 e}; the candidates are {@code P} itself,
 * a sibling {@code P + 0.3 e'} (derived from the same weights, further from the target), a model
 * holding only half of {@code P}'s layers, and an independent draw. Exact cosines are computed by
 * the test in f64 from the arrays it planted.
 */
class LineageFinderTest {
  private static final int LAYERS = 4;
  private static final int ROWS = 128;
  private static final int COLS = 64;
  private static final String[] KINDS = {"self_attn.q_proj.weight", "mlp.up_proj.weight"};

  private final Map<String, float[]> p = new LinkedHashMap<>();
  private final Map<String, float[]> target = new LinkedHashMap<>();
  private final Map<String, float[]> sibling = new LinkedHashMap<>();
  private final Map<String, float[]> independent = new LinkedHashMap<>();
  private InMemoryCheckpoint cp;
  private InMemoryCheckpoint ct;
  private InMemoryCheckpoint cs;
  private InMemoryCheckpoint cq;
  private InMemoryCheckpoint ch;

  @BeforeEach
  void plant() {
    Random rnd = new Random(11);
    cp = new InMemoryCheckpoint("P");
    ct = new InMemoryCheckpoint("T");
    cs = new InMemoryCheckpoint("S");
    cq = new InMemoryCheckpoint("Q");
    ch = new InMemoryCheckpoint("H");
    for (int l = 0; l < LAYERS; l++) {
      for (String k : KINDS) {
        String name = "model.layers." + l + "." + k;
        float[] a = new float[ROWS * COLS];
        float[] t = new float[a.length];
        float[] s = new float[a.length];
        float[] q = new float[a.length];
        for (int i = 0; i < a.length; i++) {
          a[i] = (float) rnd.nextGaussian();
          t[i] = (float) (a[i] + 0.05 * rnd.nextGaussian());
          s[i] = (float) (a[i] + 0.3 * rnd.nextGaussian());
          q[i] = (float) rnd.nextGaussian();
        }
        long[] shape = {ROWS, COLS};
        cp.add(name, DType.F32, shape, a);
        ct.add(name, DType.F32, shape, t);
        cs.add(name, DType.F32, shape, s);
        cq.add(name, DType.F32, shape, q);
        if (l < 2) {
          ch.add(name, DType.F32, shape, a);
        }
        p.put(name, a);
        target.put(name, t);
        sibling.put(name, s);
        independent.put(name, q);
      }
    }
  }

  @AfterEach
  void close() {
    for (Checkpoint c : List.of(cp, ct, cs, cq, ch)) {
      c.close();
    }
  }

  private static double cosine(float[] x, float[] y) {
    double xy = 0;
    double xx = 0;
    double yy = 0;
    for (int i = 0; i < x.length; i++) {
      xy += (double) x[i] * y[i];
      xx += (double) x[i] * x[i];
      yy += (double) y[i] * y[i];
    }
    return xy / Math.sqrt(xx * yy);
  }

  private double exactMedian(Map<String, float[]> candidate) {
    List<Double> cos = new ArrayList<>();
    candidate.forEach((n, v) -> cos.add(cosine(v, target.get(n))));
    double[] c = cos.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
  }

  @Test
  void ranksTheParentFirstThenItsSiblingThenPartialThenUnrelated() throws Exception {
    LineageRanking r = LineageFinder.builder().backend(new ReferenceBackend()).sampleRows(ROWS).threads(2).build()
        .rank(ct, List.of(cq, cs, ch, cp));
    assertThat(r.candidates()).extracting(CandidateScore::path).containsExactly("P", "S", "H", "Q");
    assertThat(r.candidates()).extracting(c -> c.verdict().kind()).containsExactly(LineageVerdict.Kind.DERIVED,
        LineageVerdict.Kind.DERIVED, LineageVerdict.Kind.DERIVED, LineageVerdict.Kind.UNRELATED);

    // Sampling every row gives the exact matrix cosines.
    CandidateScore best = r.best();
    assertThat(best.verdict().medianCosine()).isCloseTo(exactMedian(p), within(1e-9));
    assertThat(r.candidates().get(1).verdict().medianCosine()).isCloseTo(exactMedian(sibling), within(1e-9));
    assertThat(r.candidates().get(3).verdict().medianCosine()).isCloseTo(exactMedian(independent), within(1e-9));
    assertThat(best.rowsRead()).isEqualTo((long) LAYERS * KINDS.length * ROWS);
    assertThat(best.coverage()).isEqualTo(1.0);
    CandidateScore half = r.candidates().get(2);
    assertThat(half.coverage()).isEqualTo(0.5);
    assertThat(half.targetShare()).isEqualTo(0.5);
    assertThat(half.verdict().matrices()).isEqualTo(2 * KINDS.length);

    Confirmation c = r.confirmation();
    assertThat(c.path()).isEqualTo("P");
    assertThat(c.verdict().kind()).isEqualTo(LineageVerdict.Kind.DERIVED);
    assertThat(c.agrees()).isTrue();
    float[] all = concat(p);
    float[] allT = concat(target);
    assertThat(c.cosine()).isCloseTo(cosine(all, allT), within(1e-9));

    assertThat(r.answer()).startsWith("P is the most likely base of T").contains("3 candidates descend from the same"
        + " weights", "The full pass confirms it");
    assertThat(r.toMarkdown()).contains("| 1 | `P` |", "| 4 | `Q` | memory | unrelated |", "## Full pass over `P`");
    JsonNode json = new ObjectMapper().readTree(r.toJson());
    assertThat(json.get("schema").asText()).isEqualTo(LineageRanking.JSON_SCHEMA);
    assertThat(json.get("candidates").get(0).get("verdict").asText()).isEqualTo("derived");
    assertThat(json.get("confirmation").get("agrees").asBoolean()).isTrue();
    assertThat(r.toCsv().lines().count()).isEqualTo(5);
  }

  @Test
  void aSmallSampleEstimatesTheCosinesAndIsReproducible() {
    LineageFinder f = LineageFinder.builder().backend(new ReferenceBackend()).sampleRows(8).confirm(false).build();
    LineageRanking r = f.rank(ct, List.of(cq, cp));
    assertThat(r.confirmation()).isNull();
    assertThat(r.best().path()).isEqualTo("P");
    assertThat(r.best().rowsRead()).isEqualTo((long) LAYERS * KINDS.length * 8);
    // A fine-tune keeps every row's cosine near the matrix's; 8 rows of 64 columns of independent
    // weights give an estimate of standard deviation 1/sqrt(512) = 0.044 per matrix.
    assertThat(r.best().verdict().medianCosine()).isCloseTo(exactMedian(p), within(0.002));
    assertThat(Math.abs(r.candidates().get(1).verdict().medianCosine())).isLessThan(0.1);
    LineageRanking again = f.rank(ct, List.of(cq, cp));
    assertThat(again.candidates().get(1).verdict().medianCosine())
        .isEqualTo(r.candidates().get(1).verdict().medianCosine());
    LineageRanking otherSeed = LineageFinder.builder().backend(new ReferenceBackend()).sampleRows(8).seed(5)
        .confirm(false).build().rank(ct, List.of(cq, cp));
    assertThat(otherSeed.candidates().get(1).verdict().medianCosine())
        .isNotEqualTo(r.candidates().get(1).verdict().medianCosine());
  }

  @Test
  void noCandidateIsTheBaseWhenAllAreUnrelated() {
    LineageRanking r = LineageFinder.builder().backend(new ReferenceBackend()).build().rank(ct, List.of(cq));
    assertThat(r.answer()).startsWith("None of the candidate is the base of T")
        .contains("The full pass confirms it: the target is not a fine-tune of this base");
    assertThat(r.confirmation().agrees()).isTrue();
  }

  @Test
  void badArgumentsAreClearErrors() {
    LineageFinder f = LineageFinder.builder().backend(new ReferenceBackend()).build();
    assertThatThrownBy(() -> f.rank(ct, List.of())).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("no candidate base");
    assertThatThrownBy(() -> f.rank(Path.of("T"), List.of(Path.of("/no/such/candidate"))))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("/no/such/candidate");
    assertThatThrownBy(() -> LineageFinder.builder().sampleRows(0)).hasMessageContaining("at least 1");
    assertThatThrownBy(() -> LineageFinder.builder().parameters("(")).hasMessageContaining("regular expression");
  }

  private static float[] concat(Map<String, float[]> m) {
    float[] out = new float[m.size() * ROWS * COLS];
    int at = 0;
    for (float[] v : m.values()) {
      System.arraycopy(v, 0, out, at, v.length);
      at += v.length;
    }
    return Arrays.copyOf(out, at);
  }
}
