package io.crosscoder.io.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.crosscoder.InvalidInputException;
import io.crosscoder.model.Site;
import io.crosscoder.model.TokenBatch;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link OnnxLanguageModel} on the bundled bge-small-en models (v1, v1.5, and v1.5 int8) and on
 * tiny models written by the test: the residual stream that ONNX Runtime computes against a plain
 * float64 forward pass of the same weights ({@link Float64Bert}, {@link TinyEncoder}), padding,
 * the model's own output, and the refusals.
 */
class OnnxLanguageModelTest {
  /**
   * bert-base-uncased ids of three sentences ([CLS] ... [SEP]): "the cat sat on the mat.",
   * "hello world", "this is a test of the ... language model." Three lengths, so the batch is
   * padded (the vocabulary entries do not matter to the oracle, only that the ids are real).
   */
  static final int[][] SENTENCES = {
      {101, 1996, 4937, 2938, 2006, 1996, 13523, 1012, 102},
      {101, 7592, 2088, 102},
      {101, 2023, 2003, 1037, 3231, 1997, 1996, 4145, 2653, 2944, 1012, 102},
  };
  /** Absolute tolerance of ONNX Runtime (fp32) against the float64 pass, on values up to about 9 in magnitude. */
  static final double TOLERANCE = 1e-4;

  @TempDir static Path folder;

  @BeforeAll
  static void copyModels() throws Exception {
    LangchainModels.copy(LangchainModels.BGE_SMALL_EN, folder);
    LangchainModels.copy(LangchainModels.BGE_SMALL_EN_V15, folder);
    LangchainModels.copy(LangchainModels.BGE_SMALL_EN_V15_Q, folder);
  }

  static List<Site> allSites(int layers) {
    List<Site> sites = new ArrayList<>();
    sites.add(Site.residPre(0));
    for (int l = 0; l < layers; l++) {
      sites.add(Site.residPost(l));
    }
    return sites;
  }

  static int[][] padded(TokenBatch batch) {
    int[][] out = new int[batch.sequences()][];
    for (int s = 0; s < batch.sequences(); s++) {
      out[s] = Arrays.copyOfRange(batch.ids(), s * batch.length(), (s + 1) * batch.length());
    }
    return out;
  }

  /** max |rows - expected| over the real positions of the batch; {@code expected[s][t][j]}. */
  static double maxAbsDiff(float[] rows, double[][][] expected, TokenBatch batch, int width) {
    double max = 0;
    for (int s = 0; s < batch.sequences(); s++) {
      for (int t = 0; t < batch.lengths()[s]; t++) {
        for (int j = 0; j < width; j++) {
          max = Math.max(max, Math.abs(rows[(s * batch.length() + t) * width + j] - expected[s][t][j]));
        }
      }
    }
    return max;
  }

  static double[][][] site(double[][][][] oracle, int index) {
    double[][][] out = new double[oracle.length][][];
    for (int s = 0; s < oracle.length; s++) {
      out[s] = oracle[s][index];
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(strings = {LangchainModels.BGE_SMALL_EN, LangchainModels.BGE_SMALL_EN_V15})
  void residualStreamEqualsFloat64ForwardPassAtEveryBlock(String model) throws Exception {
    Path file = folder.resolve(model);
    Float64Bert oracle = Float64Bert.read(file, 12);
    assertThat(oracle.layers).isEqualTo(12);
    assertThat(oracle.heads).isEqualTo(12); // bge-small-en's config.json: num_attention_heads 12
    assertThat(oracle.epsilons()).hasSize(25).allSatisfy(eps -> assertThat(eps).isEqualTo(1e-12, within(1e-18)));
    TokenBatch batch = TokenBatch.of(SENTENCES, 0);
    double[][][][] expected = oracle.forward(padded(batch), batch.lengths());
    try (OnnxLanguageModel lm = OnnxLanguageModel.open(file, TestTokenizer.bert())) {
      assertThat(lm.layers()).isEqualTo(12);
      assertThat(lm.width()).isEqualTo(384);
      assertThat(lm.maxSequenceLength()).isEqualTo(512);
      assertThat(lm.vocabularySize()).isEqualTo(30522);
      List<Site> sites = allSites(lm.layers());
      Map<Site, float[]> got = lm.forward(batch, sites);
      assertThat(got.keySet()).containsExactlyElementsOf(sites);
      for (int i = 0; i < sites.size(); i++) {
        float[] rows = got.get(sites.get(i));
        assertThat(rows).hasSize(batch.sequences() * batch.length() * 384);
        double diff = maxAbsDiff(rows, site(expected, i), batch, 384);
        assertThat(diff).as("%s %s: max |onnx runtime - float64|", model, sites.get(i)).isLessThan(TOLERANCE);
        if (i > 0) { // the oracle tells neighbouring sites apart: an off-by-one mapping would fail
          assertThat(maxAbsDiff(rows, site(expected, i - 1), batch, 384)).isGreaterThan(0.1);
        }
      }
      // resid_pre L is resid_post L-1.
      assertThat(lm.forward(batch, List.of(Site.residPre(7))).get(Site.residPre(7)))
          .containsExactly(got.get(Site.residPost(6)));
    }
  }

  private static org.assertj.core.data.Offset<Double> within(double d) {
    return org.assertj.core.data.Offset.offset(d);
  }

  @Test
  void paddedBatchGivesTheRowsOfEachSequenceAlone() {
    Path file = folder.resolve(LangchainModels.BGE_SMALL_EN_V15);
    TokenBatch batch = TokenBatch.of(SENTENCES, 0);
    List<Site> sites = List.of(Site.residPre(0), Site.residPost(5), Site.residPost(11));
    try (OnnxLanguageModel lm = OnnxLanguageModel.open(file, TestTokenizer.bert());
        OnnxLanguageModel padOne = OnnxLanguageModel.open(file, TestTokenizer.bert(),
            OnnxLanguageModel.Options.builder().padId(1).intraOpThreads(1).build())) {
      assertThat(lm.padId()).isZero(); // [PAD], marked special by the tokenizer
      assertThat(padOne.padId()).isEqualTo(1);
      Map<Site, float[]> together = lm.forward(batch, sites);
      Map<Site, float[]> otherPad = padOne.forward(batch, sites);
      double worst = 0;
      for (int s = 0; s < SENTENCES.length; s++) {
        TokenBatch alone = TokenBatch.of(new int[][] {SENTENCES[s]}, 0);
        Map<Site, float[]> single = lm.forward(alone, sites);
        for (Site site : sites) {
          int n = SENTENCES[s].length * 384;
          float[] a = Arrays.copyOfRange(together.get(site), s * batch.length() * 384, s * batch.length() * 384 + n);
          float[] b = Arrays.copyOfRange(otherPad.get(site), s * batch.length() * 384, s * batch.length() * 384 + n);
          for (int i = 0; i < n; i++) {
            worst = Math.max(worst, Math.abs(a[i] - single.get(site)[i]));
            worst = Math.max(worst, Math.abs(b[i] - single.get(site)[i]));
          }
          // padding rows are zero
          float[] rows = together.get(site);
          for (int t = SENTENCES[s].length; t < batch.length(); t++) {
            for (int j = 0; j < 384; j++) {
              assertThat(rows[(s * batch.length() + t) * 384 + j]).isZero();
            }
          }
        }
      }
      System.out.printf(Locale.ROOT, "padded batch vs each sequence alone: max |diff| %.3g%n", worst);
      assertThat(worst).isLessThan(1e-5);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {LangchainModels.BGE_SMALL_EN_V15, LangchainModels.BGE_SMALL_EN_V15_Q})
  void lastBlockIsTheModelsOwnOutputFromAnUneditedSession(String model) throws Exception {
    Path file = folder.resolve(model);
    TokenBatch batch = TokenBatch.of(SENTENCES, 0);
    float[] ours;
    try (OnnxLanguageModel lm = OnnxLanguageModel.open(file, TestTokenizer.bert())) {
      ours = lm.forward(batch, List.of(Site.residPost(11))).get(Site.residPost(11));
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    long[] ids = new long[batch.ids().length];
    long[] mask = new long[ids.length];
    for (int s = 0; s < batch.sequences(); s++) {
      for (int t = 0; t < batch.lengths()[s]; t++) {
        ids[s * batch.length() + t] = batch.id(s, t);
        mask[s * batch.length() + t] = 1;
      }
    }
    long[] shape = {batch.sequences(), batch.length()};
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(file.toString(), options);
        OnnxTensor idTensor = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape);
        OnnxTensor maskTensor = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
        OnnxTensor typeTensor = OnnxTensor.createTensor(env, LongBuffer.wrap(new long[ids.length]), shape);
        OrtSession.Result result = session.run(Map.of("input_ids", idTensor, "attention_mask", maskTensor,
            "token_type_ids", typeTensor))) {
      FloatBuffer own = ((OnnxTensor) result.get("last_hidden_state").orElseThrow()).getFloatBuffer();
      double worst = 0;
      for (int s = 0; s < batch.sequences(); s++) {
        for (int i = 0; i < batch.lengths()[s] * 384; i++) {
          int at = s * batch.length() * 384 + i;
          worst = Math.max(worst, Math.abs(own.get(at) - ours[at]));
        }
      }
      System.out.printf(Locale.ROOT, "%s: resid_post 11 vs the unedited model's last_hidden_state: max |diff| %.3g%n",
          model, worst);
      assertThat(worst).isLessThan(1e-5);
    }
  }

  @Test
  void quantizedModelTracksTheFloat64PassOfItsFp32Sibling() throws Exception {
    Float64Bert oracle = Float64Bert.read(folder.resolve(LangchainModels.BGE_SMALL_EN_V15), 12);
    TokenBatch batch = TokenBatch.of(SENTENCES, 0);
    double[][][][] expected = oracle.forward(padded(batch), batch.lengths());
    try (OnnxLanguageModel lm = OnnxLanguageModel.open(folder.resolve(LangchainModels.BGE_SMALL_EN_V15_Q),
        TestTokenizer.bert())) {
      assertThat(lm.description()).contains("12 blocks", "width 384", "int8-quantized");
      assertThat(lm.valueName(Site.residPost(3))).isEqualTo("/encoder/layer.3/output/LayerNorm/Add_1_output_0");
      List<Site> sites = allSites(lm.layers());
      Map<Site, float[]> got = lm.forward(batch, sites);
      for (int i = 0; i < sites.size(); i++) {
        // Cosine of each real row with the fp32 model's float64 row; int8 MatMuls cost a little.
        double worstCosine = 1;
        for (int s = 0; s < batch.sequences(); s++) {
          for (int t = 0; t < batch.lengths()[s]; t++) {
            double dot = 0;
            double aa = 0;
            double bb = 0;
            for (int j = 0; j < 384; j++) {
              double a = got.get(sites.get(i))[(s * batch.length() + t) * 384 + j];
              double b = expected[s][i][t][j];
              dot += a * b;
              aa += a * a;
              bb += b * b;
            }
            worstCosine = Math.min(worstCosine, dot / Math.sqrt(aa * bb));
          }
        }
        System.out.printf(Locale.ROOT, "int8 %s: worst row cosine with fp32 float64 %.4f%n", sites.get(i), worstCosine);
        assertThat(worstCosine).as("%s", sites.get(i)).isGreaterThan(0.9);
      }
    }
  }

  @Test
  void lastSiteLimitsTheSessionAndGivesTheSameRows() {
    Path file = folder.resolve(LangchainModels.BGE_SMALL_EN);
    TokenBatch batch = TokenBatch.of(SENTENCES, 0);
    try (OnnxLanguageModel full = OnnxLanguageModel.open(file, TestTokenizer.bert());
        OnnxLanguageModel half = OnnxLanguageModel.open(file, TestTokenizer.bert(),
            OnnxLanguageModel.Options.builder().lastSite(Site.residPost(5)).build())) {
      float[] a = full.forward(batch, List.of(Site.residPost(5))).get(Site.residPost(5));
      float[] b = half.forward(batch, List.of(Site.residPost(5))).get(Site.residPost(5));
      double worst = 0;
      for (int i = 0; i < a.length; i++) {
        worst = Math.max(worst, Math.abs(a[i] - b[i]));
      }
      assertThat(worst).isLessThan(1e-5);
      assertThatThrownBy(() -> half.forward(batch, List.of(Site.residPost(6))))
          .isInstanceOf(InvalidInputException.class)
          .hasMessageContaining(file.toString()).hasMessageContaining("resid_post 6").hasMessageContaining("lastSite");
    }
    assertThatThrownBy(() -> OnnxLanguageModel.open(file, TestTokenizer.bert(),
        OnnxLanguageModel.Options.builder().lastSite(Site.residPost(12)).build()))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining(file.toString())
        .hasMessageContaining("resid_post 12").hasMessageContaining("12 blocks");
  }

  @Test
  void optionsCheckTheirArguments() {
    OnnxLanguageModel.Options defaults = OnnxLanguageModel.Options.defaults();
    assertThat(defaults.intraOpThreads()).isEqualTo(Runtime.getRuntime().availableProcessors());
    assertThat(defaults.padId()).isEmpty();
    assertThat(defaults.lastSite()).isEmpty();
    OnnxLanguageModel.Options set = OnnxLanguageModel.Options.builder().intraOpThreads(3).padId(7)
        .lastSite(Site.residPre(4)).build();
    assertThat(set.intraOpThreads()).isEqualTo(3);
    assertThat(set.padId()).hasValue(7);
    assertThat(set.lastSite()).contains(Site.residPre(4));
    assertThatThrownBy(() -> OnnxLanguageModel.Options.builder().intraOpThreads(0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("intraOpThreads must be >= 1, got 0");
    assertThatThrownBy(() -> OnnxLanguageModel.Options.builder().padId(-1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("padId must be >= 0, got -1");
    assertThatThrownBy(() -> OnnxLanguageModel.Options.builder().lastSite(null)).isInstanceOf(NullPointerException.class);
    // A padding id outside the vocabulary is refused when the model opens.
    Path file = folder.resolve(LangchainModels.BGE_SMALL_EN);
    assertThatThrownBy(() -> OnnxLanguageModel.open(file, TestTokenizer.bert(),
        OnnxLanguageModel.Options.builder().padId(30522).build()))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("padding id 30522");
  }

  @Test
  void badInputNamesTheModelFile() {
    Path file = folder.resolve(LangchainModels.BGE_SMALL_EN);
    TestTokenizer tokenizer = TestTokenizer.bert();
    try (OnnxLanguageModel lm = OnnxLanguageModel.open(file, tokenizer)) {
      TokenBatch ok = TokenBatch.of(new int[][] {{101, 102}}, 0);
      assertThatThrownBy(() -> lm.forward(ok, List.of(Site.residPost(12))))
          .isInstanceOf(InvalidInputException.class).hasMessageContaining(file.toString())
          .hasMessageContaining("resid_post 12").hasMessageContaining("12 blocks");
      assertThatThrownBy(() -> lm.forward(ok, List.of(Site.residPre(12))))
          .isInstanceOf(InvalidInputException.class).hasMessageContaining("resid_pre 12");
      int[] tooLong = new int[513];
      Arrays.fill(tooLong, 1996);
      assertThatThrownBy(() -> lm.forward(TokenBatch.of(new int[][] {tooLong}, 0), List.of(Site.residPost(0))))
          .isInstanceOf(InvalidInputException.class).hasMessageContaining(file.toString())
          .hasMessageContaining("513 tokens").hasMessageContaining("512 positions");
      // 512 real tokens is the limit, and padding beyond the longest sequence is not run.
      int[] longest = Arrays.copyOf(tooLong, 512);
      TokenBatch wide = new TokenBatch(1, 600, Arrays.copyOf(longest, 600), new int[] {512});
      assertThat(lm.forward(wide, List.of(Site.residPost(0))).get(Site.residPost(0))).hasSize(600 * 384);
      for (int bad : new int[] {30522, -1}) {
        assertThatThrownBy(() -> lm.forward(TokenBatch.of(new int[][] {{101, bad, 102}}, 0), List.of(Site.residPost(0))))
            .isInstanceOf(InvalidInputException.class).hasMessageContaining(file.toString())
            .hasMessageContaining("token id " + bad).hasMessageContaining("position 1 of sequence 0");
      }
      // An id past a sequence's length is padding, whatever it holds.
      TokenBatch junkPadding = new TokenBatch(1, 3, new int[] {101, 102, -7}, new int[] {2});
      assertThat(lm.forward(junkPadding, List.of(Site.residPost(0)))).containsKey(Site.residPost(0));
      assertThat(lm.forward(ok, List.of())).isEmpty();
      assertThat(lm.hasLanguageModelHead()).isFalse();
      assertThatThrownBy(() -> lm.logitLens(new float[384], 1))
          .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("language-model head");
    }
    assertThat(tokenizer.closes.get()).isEqualTo(1); // the model owns its tokenizer
  }

  @Test
  void refusesATokenizerLargerThanTheEmbeddingsAndLeavesItOpen() {
    Path file = folder.resolve(LangchainModels.BGE_SMALL_EN);
    TestTokenizer large = new TestTokenizer(50000, Map.of());
    assertThatThrownBy(() -> OnnxLanguageModel.open(file, large))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining(file.toString())
        .hasMessageContaining("50000 ids").hasMessageContaining("30522 rows");
    assertThat(large.closes.get()).isZero();
  }

  @Test
  void refusesFilesThatAreNotOnnxModels() throws Exception {
    Path truncated = folder.resolve("truncated.onnx");
    Files.write(truncated, Arrays.copyOf(Files.readAllBytes(folder.resolve(LangchainModels.BGE_SMALL_EN)), 100_000));
    assertThatThrownBy(() -> OnnxLanguageModel.open(truncated, TestTokenizer.bert()))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining(truncated.toString())
        .hasMessageContaining("truncated");
    Path text = folder.resolve("text.onnx");
    Files.writeString(text, "this is not a protobuf");
    assertThatThrownBy(() -> OnnxLanguageModel.open(text, TestTokenizer.bert()))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining(text.toString());
    assertThatThrownBy(() -> OnnxLanguageModel.open(folder.resolve("missing.onnx"), TestTokenizer.bert()))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("missing.onnx");
  }

  @ParameterizedTest
  @EnumSource(value = TinyEncoder.Variant.class, names = {"POST_LN", "POST_LN_INT32"})
  void tinyEncoderWithLayerNormalizationNodesEqualsItsFloat64Pass(TinyEncoder.Variant variant) throws Exception {
    TinyEncoder tiny = new TinyEncoder();
    Path file = folder.resolve("tiny-" + variant + ".onnx");
    Files.write(file, tiny.model(variant));
    int[][] sequences = {{1, 5, 7, 2}, {3, 10}, {4, 4, 9, 0, 6, 8}};
    TokenBatch batch = TokenBatch.of(sequences, 0);
    try (OnnxLanguageModel lm = OnnxLanguageModel.open(file, new TestTokenizer(TinyEncoder.VOCABULARY, Map.of()),
        OnnxLanguageModel.Options.builder().intraOpThreads(1).build())) {
      assertThat(lm.layers()).isEqualTo(TinyEncoder.LAYERS);
      assertThat(lm.width()).isEqualTo(TinyEncoder.WIDTH);
      assertThat(lm.maxSequenceLength()).isEqualTo(TinyEncoder.POSITIONS);
      assertThat(lm.padId()).isZero(); // no [PAD] among the tokenizer's specials
      assertThat(lm.valueName(Site.residPre(0))).isEqualTo("h0");
      assertThat(lm.valueName(Site.residPost(0))).isEqualTo("h1");
      List<Site> sites = allSites(lm.layers());
      Map<Site, float[]> got = lm.forward(batch, sites);
      double[][][][] expected = new double[sequences.length][][][];
      for (int s = 0; s < sequences.length; s++) {
        expected[s] = tiny.forward(sequences[s]);
      }
      for (int i = 0; i < sites.size(); i++) {
        assertThat(maxAbsDiff(got.get(sites.get(i)), site(expected, i), batch, TinyEncoder.WIDTH))
            .as("%s", sites.get(i)).isLessThan(1e-5);
      }
      int[] seven = {1, 2, 3, 4, 5, 6, 7};
      assertThatThrownBy(() -> lm.forward(TokenBatch.of(new int[][] {seven}, 0), List.of(Site.residPost(0))))
          .isInstanceOf(InvalidInputException.class).hasMessageContaining("6 positions");
      assertThatThrownBy(() -> lm.forward(TokenBatch.of(new int[][] {{11}}, 0), List.of(Site.residPost(0))))
          .isInstanceOf(InvalidInputException.class).hasMessageContaining("token id 11");
    }
  }

  @ParameterizedTest
  @EnumSource(value = TinyEncoder.Variant.class, names = {"PRE_LN", "EXTRA_INPUT", "NO_LAYER_NORM"})
  void refusesGraphsThatAreNotPostLayerNormEncoders(TinyEncoder.Variant variant) throws Exception {
    Path file = folder.resolve("tiny-" + variant + ".onnx");
    Files.write(file, new TinyEncoder().model(variant));
    String why = switch (variant) {
      case PRE_LN -> "not a post-LN encoder";
      case EXTRA_INPUT -> "graph input 'position_ids'";
      default -> "no LayerNorm after the word embeddings";
    };
    TestTokenizer tokenizer = new TestTokenizer(TinyEncoder.VOCABULARY, Map.of());
    assertThatThrownBy(() -> OnnxLanguageModel.open(file, tokenizer))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining(file.toString())
        .hasMessageContaining("not a BERT-style encoder").hasMessageContaining(why);
  }
}
