package io.crosscoder.model.decoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.backend.Kernels;
import io.crosscoder.model.Site;
import io.crosscoder.model.TokenBatch;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * stories260K, a real trained Llama in the Hugging Face layout, against golden outputs from an
 * independent float64 forward pass in llama2.c's own RoPE convention (test resource {@code
 * stories260K/}, see its README): the embedding output and the residual after every block to
 * 1e-4 relative, the last position's logits to 1e-3, the argmax at every position and a 40-token
 * greedy continuation from BOS exactly; on the CPU (vector and plain Java) and on the {@link
 * Kernels} default methods that a backend without overrides (cuda) runs.
 */
class Stories260KTest {
  private static Path folder;
  private static JsonNode golden;
  private static int[] prompt;

  @BeforeAll
  static void readGolden() throws IOException, URISyntaxException {
    folder = Path.of(Stories260KTest.class.getResource("/stories260K/config.json").toURI()).getParent();
    golden = new ObjectMapper().readTree(folder.resolve("golden.json").toFile());
    prompt = ints(golden.get("prompt"));
  }

  static int[] ints(JsonNode array) {
    int[] out = new int[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asInt();
    }
    return out;
  }

  /** Rows of the golden [positions][width] matrix, as doubles. */
  static double[][] matrix(JsonNode rows) {
    double[][] out = new double[rows.size()][];
    for (int i = 0; i < out.length; i++) {
      JsonNode r = rows.get(i);
      out[i] = new double[r.size()];
      for (int j = 0; j < out[i].length; j++) {
        out[i][j] = r.get(j).asDouble();
      }
    }
    return out;
  }

  /** Every row of {@code got} within {@code relative} of the golden row's largest magnitude. */
  static void assertRowsClose(float[] got, double[][] want, double relative, String what) {
    int width = want[0].length;
    for (int t = 0; t < want.length; t++) {
      double scale = Arrays.stream(want[t]).map(Math::abs).max().orElse(0);
      for (int c = 0; c < width; c++) {
        assertThat((double) got[t * width + c]).as("%s, position %d, element %d", what, t, c)
            .isCloseTo(want[t][c], within(relative * scale));
      }
    }
  }

  static int argmax(float[] v, int from, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) {
      if (v[from + i] > v[from + best]) {
        best = i;
      }
    }
    return best;
  }

  /** Greedy decoding for tests: the whole sequence again at every step (no cache), then the argmax of the last row. */
  static int[] greedy(DecoderModel model, int[] start, int steps) {
    List<Integer> ids = new ArrayList<>();
    for (int id : start) {
      ids.add(id);
    }
    Site last = Site.residPost(model.layers() - 1);
    for (int s = 0; s < steps; s++) {
      int[] seq = ids.stream().mapToInt(Integer::intValue).toArray();
      float[] x = model.forward(TokenBatch.of(new int[][] {seq}, model.padId()), List.of(last)).get(last);
      float[] row = Arrays.copyOfRange(x, (seq.length - 1) * model.width(), seq.length * model.width());
      ids.add(argmax(model.logitLens(row, 1), 0, model.vocabularySize()));
    }
    return ids.stream().mapToInt(Integer::intValue).toArray();
  }

  @ParameterizedTest
  @EnumSource(TestKernels.class)
  void hiddenStatesAndLogitsMatchTheGoldenForwardPass(TestKernels which) {
    try (Kernels kernels = which.get(); DecoderModel model = DecoderModel.open(folder, kernels, null)) {
      assertThat(model.layers()).isEqualTo(5);
      assertThat(model.width()).isEqualTo(64);
      assertThat(model.config().architecture()).isEqualTo(DecoderConfig.Architecture.LLAMA);
      List<Site> sites = new ArrayList<>(List.of(Site.residPre(0)));
      for (int l = 0; l < 5; l++) {
        sites.add(Site.residPost(l));
      }
      Map<Site, float[]> acts = model.forward(TokenBatch.of(new int[][] {prompt}, 0), sites);
      assertRowsClose(acts.get(Site.residPre(0)), matrix(golden.get("embedding_output")), 1e-4, "embedding output");
      for (int l = 0; l < 5; l++) {
        assertRowsClose(acts.get(Site.residPost(l)), matrix(golden.get("residual_after_layer").get(Integer.toString(l + 1))),
            1e-4, "resid_post " + l);
      }
      float[] logits = model.logitLens(acts.get(Site.residPost(4)), prompt.length);
      int vocab = model.vocabularySize();
      JsonNode lastLogits = golden.get("logits_last");
      for (int i = 0; i < vocab; i++) {
        assertThat((double) logits[(prompt.length - 1) * vocab + i]).as("logit %d", i)
            .isCloseTo(lastLogits.get(i).asDouble(), within(1e-3));
      }
      int[] argmax = ints(golden.get("logits_all_argmax"));
      for (int t = 0; t < prompt.length; t++) {
        assertThat(argmax(logits, t * vocab, vocab)).as("argmax at position %d", t).isEqualTo(argmax[t]);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(TestKernels.class)
  void greedyContinuationFromBosIsTheGoldenOne(TestKernels which) {
    int[] want = ints(golden.get("greedy_from_bos"));
    try (Kernels kernels = which.get();
        DecoderModel model = DecoderModel.open(folder, kernels, new VocabTokenizer("/stories260K/vocab.json"))) {
      int[] got = greedy(model, new int[] {1}, want.length - 1);
      assertThat(got).containsExactly(want);
      assertThat(model.tokenizer().decode(Arrays.copyOfRange(got, 1, 20))).startsWith(" Once upon a time, there was a little girl named Lily.");
    }
  }

  @ParameterizedTest
  @EnumSource(value = TestKernels.class, names = {"VECTOR", "HOST_DEFAULTS", "NAMED_BACKEND"})
  void thePromptInAPaddedBatchGetsTheSameResidualsAsAlone(TestKernels which) {
    int[] shorter = Arrays.copyOf(prompt, 9);
    int[] other = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267,
        337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433};
    try (Kernels kernels = which.get(); DecoderModel model = DecoderModel.open(folder, kernels, null)) {
      Site site = Site.residPost(4);
      // Padding ids past each length are garbage on purpose: they must never be read.
      TokenBatch batch = TokenBatch.of(new int[][] {shorter, prompt, other}, 100_000);
      float[] together = model.forward(batch, List.of(site)).get(site);
      int d = model.width();
      int[][] alone = {shorter, prompt, other};
      for (int s = 0; s < alone.length; s++) {
        float[] single = model.forward(TokenBatch.of(new int[][] {alone[s]}, 0), List.of(site)).get(site);
        for (int i = 0; i < alone[s].length * d; i++) {
          assertThat((double) together[s * batch.length() * d + i]).as("sequence %d element %d", s, i)
              .isCloseTo(single[i], within(1e-5 * (1 + Math.abs(single[i]))));
        }
      }
      assertThat(together).doesNotContain(Float.NaN);
    }
  }
}
