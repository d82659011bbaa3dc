package io.crosscoder.crosscoder.analysis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.model.FakeModels.WordTokenizer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LatentExamplesTest {
  @Test
  void keepsEachLatentsTopActivationsSumsAndTokenCountsAsABruteForceSortDoes() {
    int f = 7;
    int rows = 3000;
    SplittableRandom rnd = new SplittableRandom(5);
    float[] codes = new float[rows * f];
    long[] labels = new long[rows];
    int[] tokens = new int[rows];
    for (int r = 0; r < rows; r++) {
      labels[r] = LatentExamples.rowLabel(r / 50, r % 50);
      tokens[r] = rnd.nextInt(12);
      for (int i = 0; i < f; i++) {
        // Latent 6 never fires; latent 0 fires often with ties.
        codes[r * f + i] = i == 6 ? 0 : rnd.nextDouble() < 0.2 + 0.1 * (i == 0 ? 3 : 0)
            ? (i == 0 ? rnd.nextInt(5) + 1 : (float) rnd.nextDouble()) : 0;
      }
    }
    LatentExamples ex = new LatentExamples(f, 10);
    for (int from = 0; from < rows; from += 700) {
      int n = Math.min(700, rows - from);
      ex.add(n, java.util.Arrays.copyOfRange(codes, from * f, (from + n) * f),
          java.util.Arrays.copyOfRange(labels, from, from + n), java.util.Arrays.copyOfRange(tokens, from, from + n));
    }
    assertThat(ex.rows()).isEqualTo(rows);
    for (int i = 0; i < f; i++) {
      List<long[]> fired = new ArrayList<>();
      double sum = 0;
      Map<Integer, Long> byToken = new HashMap<>();
      for (int r = 0; r < rows; r++) {
        float v = codes[r * f + i];
        if (v > 0) {
          fired.add(new long[] {Float.floatToIntBits(v), labels[r]});
          sum += v;
          byToken.merge(tokens[r], 1L, Long::sum);
        }
      }
      fired.sort(Comparator.comparingDouble((long[] a) -> -Float.intBitsToFloat((int) a[0])).thenComparingLong(a -> a[1]));
      List<LatentExamples.Example> got = ex.examples(i);
      assertThat(got).hasSize(Math.min(10, fired.size()));
      for (int k = 0; k < got.size(); k++) {
        assertThat(got.get(k).activation()).isEqualTo(Float.intBitsToFloat((int) fired.get(k)[0]));
        if (i != 0) {
          assertThat(got.get(k).row()).isEqualTo(fired.get(k)[1]);
        }
      }
      assertThat(ex.firings(i)).isEqualTo(fired.size());
      assertThat(ex.activationSum(i)).isCloseTo(sum, org.assertj.core.data.Offset.offset(1e-6 * (1 + sum)));
      List<Map.Entry<Integer, Long>> expected = new ArrayList<>(byToken.entrySet());
      expected.sort(Comparator.comparingLong((Map.Entry<Integer, Long> e) -> -e.getValue()).thenComparingInt(Map.Entry::getKey));
      List<LatentExamples.TokenCount> top = ex.topTokens(i, 4);
      assertThat(top).hasSize(Math.min(4, expected.size()));
      for (int k = 0; k < top.size(); k++) {
        assertThat(top.get(k).token()).isEqualTo(expected.get(k).getKey());
        assertThat(top.get(k).count()).isEqualTo(expected.get(k).getValue());
      }
    }
    // Latent 0's ties: the ten highest values are 5s (there are many), whatever rows hold them.
    assertThat(ex.examples(0)).allSatisfy(e -> assertThat(e.activation()).isEqualTo(5f));
    assertThat(ex.tokenCountsComplete()).isTrue();
    int[] strongest = ex.strongest(new int[] {6, 1, 0, 2}, 2);
    assertThat(strongest).containsExactly(0, ex.activationSum(1) >= ex.activationSum(2) ? 1 : 2);
    assertThat(ex.strongest(new int[] {6}, 3)).isEmpty();
  }

  @Test
  void sparseLatentsComeBeforeDenseOnesHoweverLargeTheirSums() {
    // 100 rows: latent 0 fires on 50 (dense) with value 3, latent 1 on 10 (exactly 10%: not dense)
    // with value 2, latent 2 on 5 with value 1, latent 3 on 11 (dense) with value 0.5.
    int f = 4;
    int rows = 100;
    float[] codes = new float[rows * f];
    long[] labels = new long[rows];
    for (int r = 0; r < rows; r++) {
      labels[r] = LatentExamples.rowLabel(0, r);
      codes[r * f] = r % 2 == 0 ? 3 : 0;
      codes[r * f + 1] = r < 10 ? 2 : 0;
      codes[r * f + 2] = r >= 90 && r < 95 ? 1 : 0;
      codes[r * f + 3] = r >= 30 && r < 41 ? 0.5f : 0;
    }
    LatentExamples ex = new LatentExamples(f, 3);
    ex.add(rows, codes, labels, new int[rows]);
    assertThat(ex.isDense(0)).isTrue();
    assertThat(ex.isDense(1)).isFalse();
    assertThat(ex.isDense(3)).isTrue();
    // Sums: 150, 20, 5, 5.5. Sparse first by sum (1, 2), then dense by sum (0, 3).
    assertThat(ex.strongest(new int[] {0, 1, 2, 3}, 4)).containsExactly(1, 2, 0, 3);
    assertThat(ex.strongest(new int[] {3, 0}, 1)).containsExactly(0);
  }

  @Test
  void rowLabelsCarrySequenceAndPosition() {
    long l = LatentExamples.rowLabel(123_456_789L, 1000);
    assertThat(LatentExamples.sequenceOf(l)).isEqualTo(123_456_789L);
    assertThat(LatentExamples.positionOf(l)).isEqualTo(1000);
    assertThatThrownBy(() -> LatentExamples.rowLabel(1, 1 << 20)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new LatentExamples(0, 3)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void quotesTheTokenBetweenItsNeighboursWithoutSpecialTokens() {
    WordTokenizer tok = new WordTokenizer("t", false);
    int[] ids = {1, tok.id("alpha"), tok.id("beta"), tok.id("gamma"), tok.id("delta"), 2};
    LatentCard.Context c = LatentCards.quote(tok, ids, 3, 2.5f, 9);
    assertThat(c.before()).isEqualTo("w" + tok.id("alpha") + " w" + tok.id("beta"));
    assertThat(c.token()).isEqualTo(" w" + tok.id("gamma"));
    assertThat(c.after()).isEqualTo(" w" + tok.id("delta"));
    assertThat(c.activation()).isEqualTo(2.5f);
    assertThat(c.document()).isEqualTo(9);
    LatentCard.Context first = LatentCards.quote(tok, ids, 1, 1f, 0);
    assertThat(first.before()).isEmpty();
    assertThat(first.token()).isEqualTo("w" + tok.id("alpha"));
    assertThatThrownBy(() -> LatentCards.quote(tok, ids, 6, 1f, 0)).isInstanceOf(IllegalArgumentException.class);
  }
}
