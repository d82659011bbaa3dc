package io.crosscoder.model.decoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.backend.Kernels;
import io.crosscoder.model.Site;
import io.crosscoder.model.TokenBatch;
import io.crosscoder.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What the stories260K fixture lacks, on tiny random decoders written by the test ({@link
 * TinyModel}) and checked against its independent float64 forward pass: Qwen2's q/k/v biases,
 * Mistral's sliding window, Qwen2's window on upper layers only, rope scaling linear and llama3,
 * BF16 and F16 weights, a separate output head, Qwen3's per-head q/k norms with an explicit
 * head_dim, Llama's attention and MLP biases, sharded files; and padding within a batch (every
 * sequence of a right-padded batch matches the reference of that sequence alone, and the batch
 * matches each sequence run alone). Residuals are compared at every site to 1e-4 of each row's
 * largest magnitude, logits likewise.
 */
class TinyDecoderTest {
  @TempDir
  Path dir;

  private static final double TOLERANCE = 1e-4;

  private static int[][] sequences(long seed, int vocab, int... lengths) {
    Random r = new Random(seed);
    int[][] out = new int[lengths.length][];
    for (int s = 0; s < lengths.length; s++) {
      out[s] = new int[lengths[s]];
      for (int t = 0; t < lengths[s]; t++) {
        out[s][t] = r.nextInt(vocab);
      }
    }
    return out;
  }

  /** Every site and the logits at every real position of every sequence, against the reference of that sequence alone. */
  private static void assertMatchesReference(TinyModel m, DecoderModel model, int[][] seqs) {
    int d = m.spec.hidden;
    int vocab = m.spec.vocab;
    List<Site> sites = new ArrayList<>(List.of(Site.residPre(0)));
    for (int l = 0; l < m.spec.layers; l++) {
      sites.add(Site.residPost(l));
    }
    TokenBatch batch = TokenBatch.of(seqs, 7);
    Map<Site, float[]> acts = model.forward(batch, sites);
    float[] last = acts.get(Site.residPost(m.spec.layers - 1));
    float[] logits = model.logitLens(last, batch.sequences() * batch.length());
    for (int s = 0; s < seqs.length; s++) {
      double[][] want = m.residuals(seqs[s]);
      for (int i = 0; i <= m.spec.layers; i++) {
        Site site = i == 0 ? Site.residPre(0) : Site.residPost(i - 1);
        assertRows(acts.get(site), s * batch.length() * d, want[i], seqs[s].length, d,
            "sequence " + s + " " + site);
      }
      double[] wantLogits = m.logits(want[m.spec.layers], seqs[s].length);
      assertRows(logits, s * batch.length() * vocab, wantLogits, seqs[s].length, vocab, "sequence " + s + " logits");
    }
  }

  static void assertRows(float[] got, int offset, double[] want, int rows, int width, String what) {
    for (int t = 0; t < rows; t++) {
      double scale = 0;
      for (int c = 0; c < width; c++) {
        scale = Math.max(scale, Math.abs(want[t * width + c]));
      }
      for (int c = 0; c < width; c++) {
        assertThat((double) got[offset + t * width + c]).as("%s, position %d, element %d", what, t, c)
            .isCloseTo(want[t * width + c], within(TOLERANCE * Math.max(scale, 1e-3)));
      }
    }
  }

  private TinyModel write(String name, TinyModel.Spec spec, long seed) {
    return TinyModel.write(dir.resolve(name), spec, seed, false);
  }

  @ParameterizedTest
  @EnumSource(value = TestKernels.class, names = {"VECTOR", "HOST_DEFAULTS", "NAMED_BACKEND"})
  void qwen2WithQkvBiasesMatchesTheReferenceInAPaddedBatch(TestKernels which) {
    TinyModel.Spec spec = new TinyModel.Spec().arch("Qwen2ForCausalLM", "qwen2");
    spec.theta = 1_000_000;
    spec.eps = 1e-6;
    spec.layers = 3;
    TinyModel m = write("qwen2", spec, 1);
    assertThat(m.weights).containsKey("model.layers.0.self_attn.q_proj.bias").doesNotContainKey("model.layers.0.self_attn.o_proj.bias");
    try (Kernels k = which.get(); DecoderModel model = DecoderModel.open(m.folder, k, null)) {
      assertThat(model.config().qkvBias()).isTrue();
      assertThat(model.config().outputBias()).isFalse();
      assertMatchesReference(m, model, sequences(11, spec.vocab, 7, 3, 1, 12));
    }
  }

  @ParameterizedTest
  @EnumSource(value = TestKernels.class, names = {"VECTOR", "SCALAR", "HOST_DEFAULTS", "NAMED_BACKEND"})
  void mistralSlidingWindowMatchesTheReference(TestKernels which) {
    TinyModel.Spec spec = new TinyModel.Spec().arch("MistralForCausalLM", "mistral");
    spec.slidingWindow = 3;
    TinyModel m = write("mistral", spec, 2);
    int[][] seqs = sequences(12, spec.vocab, 10, 6, 2);
    // The window must matter here, or the test would not see it: without it the last positions move.
    TinyModel.Spec full = spec.copy();
    full.slidingWindow = null;
    TinyModel unwindowed = write("mistral-full", full, 2);
    double[] a = m.residuals(seqs[0])[2];
    double[] b = unwindowed.residuals(seqs[0])[2];
    double moved = 0;
    for (int i = 0; i < a.length; i++) {
      moved = Math.max(moved, Math.abs(a[i] - b[i]));
    }
    assertThat(moved).as("effect of the window on the reference").isGreaterThan(0.05);
    try (Kernels k = which.get(); DecoderModel model = DecoderModel.open(m.folder, k, null)) {
      assertThat(model.config().slidingWindow(0)).isEqualTo(3);
      assertThat(model.config().slidingWindow(1)).isEqualTo(3);
      assertMatchesReference(m, model, seqs);
    }
  }

  @Test
  void qwen2SlidingWindowAppliesFromMaxWindowLayersOnly() {
    TinyModel.Spec spec = new TinyModel.Spec().arch("Qwen2ForCausalLM", "qwen2");
    spec.layers = 3;
    spec.slidingWindow = 2;
    spec.useSlidingWindow = true;
    spec.maxWindowLayers = 2;
    TinyModel m = write("qwen2-window", spec, 3);
    try (Kernels k = TestKernels.VECTOR.get(); DecoderModel model = DecoderModel.open(m.folder, k, null)) {
      assertThat(new int[] {model.config().slidingWindow(0), model.config().slidingWindow(1), model.config().slidingWindow(2)})
          .containsExactly(0, 0, 2);
      assertMatchesReference(m, model, sequences(13, spec.vocab, 9, 4));
    }
  }

  @Test
  void ropeScalingLinearAndLlama3MatchTheReference() {
    TinyModel.Spec plain = new TinyModel.Spec();
    plain.headDim = 8; // inverse frequencies 1, 0.1, 0.01, 0.001: one per band of llama3 and one more
    TinyModel.Spec linear = plain.copy();
    linear.ropeScaling = Map.of("type", "linear", "factor", 4.0);
    TinyModel.Spec llama3 = plain.copy();
    // Wavelengths 6.3, 63, 628, 6283 against 64 / 4 = 16 and 64 / 1 = 64: kept, smoothed, divided, divided.
    llama3.ropeScaling = Map.of("rope_type", "llama3", "factor", 8.0, "low_freq_factor", 1.0,
        "high_freq_factor", 4.0, "original_max_position_embeddings", 64);
    int[][] seqs = sequences(14, plain.vocab, 20, 13);
    TinyModel base = write("plain", plain, 4);
    double[] unscaled = base.residuals(seqs[0])[2];
    for (TinyModel.Spec spec : List.of(linear, llama3)) {
      TinyModel m = write("scaled-" + spec.ropeScaling.size(), spec, 4);
      double[] scaled = m.residuals(seqs[0])[2];
      double moved = 0;
      for (int i = 0; i < scaled.length; i++) {
        moved = Math.max(moved, Math.abs(scaled[i] - unscaled[i]));
      }
      assertThat(moved).as("effect of %s on the reference", spec.ropeScaling).isGreaterThan(0.01);
      try (Kernels k = TestKernels.VECTOR.get(); DecoderModel model = DecoderModel.open(m.folder, k, null)) {
        assertThat(model.config().ropeScaling().type())
            .isEqualTo(spec == linear ? RopeScaling.Type.LINEAR : RopeScaling.Type.LLAMA3);
        assertMatchesReference(m, model, seqs);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(value = DType.class, names = {"BF16", "F16"})
  void halfPrecisionWeightsMatchTheReferenceOnTheirStoredValues(DType dtype) {
    TinyModel.Spec spec = new TinyModel.Spec().arch("Qwen2ForCausalLM", "qwen2");
    spec.dtype = dtype;
    spec.tied = false;
    TinyModel m = write("half-" + dtype, spec, 5);
    for (TestKernels which : List.of(TestKernels.VECTOR, TestKernels.HOST_DEFAULTS)) {
      try (Kernels k = which.get(); DecoderModel model = DecoderModel.open(m.folder, k, null)) {
        assertThat(model.description()).contains(dtype + " weights");
        assertMatchesReference(m, model, sequences(15, spec.vocab, 8, 5));
      }
    }
  }

  @Test
  void aSeparateOutputHeadIsUsedWhenEmbeddingsAreNotTied() {
    TinyModel.Spec spec = new TinyModel.Spec();
    spec.tied = false;
    TinyModel m = write("untied", spec, 6);
    try (Kernels k = TestKernels.VECTOR.get(); DecoderModel model = DecoderModel.open(m.folder, k, null)) {
      assertThat(model.config().tiedEmbeddings()).isFalse();
      assertThat(model.description()).doesNotContain("tied head");
      assertMatchesReference(m, model, sequences(16, spec.vocab, 6));
    }
  }

  @ParameterizedTest
  @EnumSource(value = TestKernels.class, names = {"VECTOR", "HOST_DEFAULTS", "NAMED_BACKEND"})
  void qwen3QueryAndKeyNormsWithAnExplicitHeadDim(TestKernels which) {
    TinyModel.Spec spec = new TinyModel.Spec().arch("Qwen3ForCausalLM", "qwen3");
    spec.headDim = 10; // 4 heads of 10: a query width of 40 beside a hidden size of 24
    spec.eps = 1e-6;
    TinyModel m = write("qwen3", spec, 7);
    try (Kernels k = which.get(); DecoderModel model = DecoderModel.open(m.folder, k, null)) {
      assertThat(model.config().qkNorm()).isTrue();
      assertThat(model.config().headDim()).isEqualTo(10);
      assertMatchesReference(m, model, sequences(17, spec.vocab, 9, 2));
    }
  }

  @Test
  void llamaAttentionAndMlpBiases() {
    TinyModel.Spec spec = new TinyModel.Spec();
    spec.attentionBias = true;
    spec.mlpBias = true;
    spec.heads = 6;
    spec.kvHeads = 3;
    TinyModel m = write("llama-bias", spec, 8);
    assertThat(m.weights).containsKeys("model.layers.1.self_attn.o_proj.bias", "model.layers.1.mlp.down_proj.bias");
    try (Kernels k = TestKernels.SCALAR.get(); DecoderModel model = DecoderModel.open(m.folder, k, null)) {
      assertThat(model.config().outputBias()).isTrue();
      assertThat(model.config().mlpBias()).isTrue();
      assertMatchesReference(m, model, sequences(18, spec.vocab, 5, 11));
    }
  }

  @Test
  void aShardedCheckpointGivesExactlyWhatTheSingleFileGives() throws IOException {
    TinyModel.Spec spec = new TinyModel.Spec().arch("Qwen2ForCausalLM", "qwen2");
    TinyModel single = write("single", spec, 9);
    TinyModel sharded = TinyModel.write(dir.resolve("sharded"), spec, 9, true);
    try (Stream<Path> files = Files.list(sharded.folder)) {
      assertThat(files.filter(p -> p.toString().endsWith(".safetensors")).count()).isGreaterThan(3);
    }
    int[][] seqs = sequences(19, spec.vocab, 6, 4);
    Site site = Site.residPost(1);
    try (Kernels k = TestKernels.VECTOR.get();
        DecoderModel a = DecoderModel.open(single.folder, k, null);
        DecoderModel b = DecoderModel.open(sharded.folder, k, null)) {
      TokenBatch batch = TokenBatch.of(seqs, 0);
      assertThat(b.forward(batch, List.of(site)).get(site)).containsExactly(a.forward(batch, List.of(site)).get(site));
      assertMatchesReference(sharded, b, seqs);
    }
  }

  @ParameterizedTest
  @EnumSource(value = TestKernels.class, names = {"VECTOR", "HOST_DEFAULTS", "NAMED_BACKEND"})
  void aPaddedBatchInAnyNumberOfPassesEqualsEachSequenceAlone(TestKernels which) {
    TinyModel.Spec spec = new TinyModel.Spec().arch("MistralForCausalLM", "mistral");
    spec.slidingWindow = 4;
    TinyModel m = write("passes", spec, 10);
    int[][] seqs = sequences(20, spec.vocab, 3, 11, 1, 8, 11);
    Site mid = Site.residPost(0);
    Site last = Site.residPost(1);
    for (int rowsPerPass : new int[] {1, 11, 25, 2048}) {
      try (Kernels k = which.get();
          DecoderModel model = DecoderModel.builder(m.folder, k).rowsPerPass(rowsPerPass).logitRowsPerChunk(3).build()) {
        TokenBatch batch = TokenBatch.of(seqs, 1_000_000); // padding ids out of range: never read
        Map<Site, float[]> together = model.forward(batch, List.of(last, mid));
        assertThat(together.keySet()).containsExactly(last, mid);
        float[] logits = model.logitLens(together.get(last), batch.sequences() * batch.length());
        int d = spec.hidden;
        for (int s = 0; s < seqs.length; s++) {
          Map<Site, float[]> alone = model.forward(TokenBatch.of(new int[][] {seqs[s]}, 0), List.of(mid, last));
          float[] aloneLogits = model.logitLens(alone.get(last), seqs[s].length);
          for (Site site : List.of(mid, last)) {
            for (int i = 0; i < seqs[s].length * d; i++) {
              float want = alone.get(site)[i];
              assertThat((double) together.get(site)[s * batch.length() * d + i])
                  .as("rowsPerPass %d, sequence %d, %s, element %d", rowsPerPass, s, site, i)
                  .isCloseTo(want, within(1e-5 * (1 + Math.abs(want))));
            }
          }
          for (int i = 0; i < seqs[s].length * spec.vocab; i++) {
            assertThat((double) logits[s * batch.length() * spec.vocab + i])
                .isCloseTo(aloneLogits[i], within(1e-5 * (1 + Math.abs(aloneLogits[i]))));
          }
        }
        for (float[] a : together.values()) {
          assertThat(a).as("padding rows stay finite").doesNotContain(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY);
        }
        assertMatchesReference(m, model, seqs);
      }
    }
  }

  @Test
  void onlyTheBlocksUpToTheLastSiteRunAndSitesAreDeduplicated() {
    TinyModel.Spec spec = new TinyModel.Spec();
    spec.layers = 3;
    TinyModel m = write("sites", spec, 11);
    int[] seq = sequences(21, spec.vocab, 5)[0];
    try (Kernels k = TestKernels.VECTOR.get(); DecoderModel model = DecoderModel.open(m.folder, k, null)) {
      Map<Site, float[]> out = model.forward(TokenBatch.of(new int[][] {seq}, 0),
          List.of(Site.residPre(1), Site.residPost(0), Site.residPre(0)));
      assertThat(out).hasSize(3);
      assertThat(out.get(Site.residPre(1))).containsExactly(out.get(Site.residPost(0)));
      double[][] want = m.residuals(seq);
      assertRows(out.get(Site.residPre(1)), 0, want[1], seq.length, spec.hidden, "resid_pre 1");
      assertRows(out.get(Site.residPre(0)), 0, want[0], seq.length, spec.hidden, "resid_pre 0");
      assertThat(model.forward(TokenBatch.of(new int[][] {seq}, 0), List.of())).isEmpty();
      assertThat(Arrays.stream(new int[] {model.layers(), model.width(), model.vocabularySize(), model.maxSequenceLength()}))
          .containsExactly(3, 24, 50, 64);
    }
  }

  @ParameterizedTest
  @EnumSource(value = TestKernels.class, names = {"VECTOR", "HOST_DEFAULTS", "NAMED_BACKEND"})
  void attentionInQueryBlocksMatchesTheReferenceWithAndWithoutAWindow(TestKernels which) {
    TinyModel.Spec windowed = new TinyModel.Spec().arch("MistralForCausalLM", "mistral");
    windowed.slidingWindow = 3;
    TinyModel.Spec full = new TinyModel.Spec().arch("Qwen2ForCausalLM", "qwen2");
    for (TinyModel.Spec spec : List.of(windowed, full)) {
      TinyModel m = write("blocks-" + spec.modelType, spec, 12);
      // Blocks of 4 and 5 queries over sequences of 13, 9 and 4: whole, partial and single blocks,
      // with the window starting keys inside earlier blocks.
      for (int block : new int[] {4, 5}) {
        try (Kernels k = which.get(); DecoderModel model = DecoderModel.builder(m.folder, k).queryBlock(block).build()) {
          assertMatchesReference(m, model, sequences(22, spec.vocab, 13, 9, 4));
        }
      }
    }
  }

  @Test
  void logitLensIntoACallersArrayTakesAnyRowRange() {
    TinyModel.Spec spec = new TinyModel.Spec();
    spec.tied = false;
    TinyModel m = write("lens", spec, 13);
    int[] seq = sequences(23, spec.vocab, 9)[0];
    try (Kernels k = TestKernels.VECTOR.get();
        DecoderModel model = DecoderModel.builder(m.folder, k).logitRowsPerChunk(2).build()) {
      float[] x = model.forward(TokenBatch.of(new int[][] {seq}, 0), List.of(Site.residPost(1))).get(Site.residPost(1));
      float[] all = model.logitLens(x, 9);
      float[] out = new float[5 + 4 * spec.vocab];
      Arrays.fill(out, Float.NaN);
      model.logitLens(x, 3, 4, out, 5);
      assertThat(Arrays.copyOf(out, 5)).containsOnly(Float.NaN);
      assertThat(Arrays.copyOfRange(out, 5, out.length)).containsExactly(Arrays.copyOfRange(all, 3 * spec.vocab, 7 * spec.vocab));
      double[] want = m.logits(m.residuals(seq)[2], 9);
      assertRows(all, 0, want, 9, spec.vocab, "logits");
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> model.logitLens(x, 6, 4, out, 5))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("residual has 216");
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> model.logitLens(x, 0, 4, out, 6))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("do not fit");
    }
  }
}
