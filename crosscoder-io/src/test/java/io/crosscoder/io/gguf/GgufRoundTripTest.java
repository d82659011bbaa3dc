package io.crosscoder.io.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.ModelDiffer;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.checkpoint.CheckpointFormats;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.LineageVerdict;
import io.crosscoder.report.TensorDiff;
import io.crosscoder.tensor.TensorView;
import io.crosscoder.testing.ReferenceBackend;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Llama (stories260K, Hugging Face layout, 8 query and 4 key/value heads) written by the
 * test as GGUF the way llama.cpp's converter lays it out (names {@code blk.N.attn_q.weight}, q/k
 * rows permuted per head, dimensions fastest first), then read back and compared with the
 * safetensors original: exactly equal in F32, and equal to the test's own dequantization in Q8_0.
 */
class GgufRoundTripTest {
  @TempDir static Path dir;
  static Path safetensors;
  static Map<String, float[]> hf = new LinkedHashMap<>();
  static Map<String, long[]> shapes = new LinkedHashMap<>();

  private static final int HEADS = 8;
  private static final int KV_HEADS = 4;
  private static final Pattern LAYER = Pattern.compile("^model\\.layers\\.(\\d+)\\.(.+)$");

  @BeforeAll
  static void load() throws Exception {
    safetensors = Path.of(GgufRoundTripTest.class.getResource("/stories260K/model.safetensors").toURI());
    try (Checkpoint c = CheckpointFormats.open(safetensors)) {
      for (TensorView t : c.tensors().values()) {
        float[] v = new float[(int) t.elementCount()];
        t.readFloats(0, v, 0, v.length);
        hf.put(t.name(), v);
        shapes.put(t.name(), t.shape());
      }
    }
  }

  /** The converter's names, written out from its tensor map (the test's own table, HF to GGUF). */
  static String ggufName(String hfName) {
    if (hfName.equals("model.embed_tokens.weight")) {
      return "token_embd.weight";
    }
    if (hfName.equals("model.norm.weight")) {
      return "output_norm.weight";
    }
    if (hfName.equals("lm_head.weight")) {
      return "output.weight";
    }
    Matcher m = LAYER.matcher(hfName);
    if (!m.matches()) {
      throw new IllegalArgumentException(hfName);
    }
    String kind = switch (m.group(2)) {
      case "input_layernorm.weight" -> "attn_norm.weight";
      case "self_attn.q_proj.weight" -> "attn_q.weight";
      case "self_attn.k_proj.weight" -> "attn_k.weight";
      case "self_attn.v_proj.weight" -> "attn_v.weight";
      case "self_attn.o_proj.weight" -> "attn_output.weight";
      case "post_attention_layernorm.weight" -> "ffn_norm.weight";
      case "mlp.gate_proj.weight" -> "ffn_gate.weight";
      case "mlp.up_proj.weight" -> "ffn_up.weight";
      case "mlp.down_proj.weight" -> "ffn_down.weight";
      default -> throw new IllegalArgumentException(hfName);
    };
    return "blk." + m.group(1) + "." + kind;
  }

  /**
   * llama.cpp's converter permutation: {@code w.reshape(heads, 2, rows / heads / 2, cols)
   * .swapaxes(1, 2).reshape(rows, cols)}: output row {@code (h, i, s)} of shape {@code (heads,
   * half, 2)} is input row {@code (h, s, i)} of shape {@code (heads, 2, half)}.
   */
  static float[] permute(float[] w, int rows, int cols, int heads) {
    int half = rows / heads / 2;
    float[] out = new float[w.length];
    for (int h = 0; h < heads; h++) {
      for (int i = 0; i < half; i++) {
        for (int s = 0; s < 2; s++) {
          int to = (h * half + i) * 2 + s;
          int from = (h * 2 + s) * half + i;
          System.arraycopy(w, from * cols, out, to * cols, cols);
        }
      }
    }
    return out;
  }

  /** The inverse of {@link #permute}. */
  static float[] unpermute(float[] w, int rows, int cols, int heads) {
    int half = rows / heads / 2;
    float[] out = new float[w.length];
    for (int h = 0; h < heads; h++) {
      for (int i = 0; i < half; i++) {
        for (int s = 0; s < 2; s++) {
          System.arraycopy(w, ((h * half + i) * 2 + s) * cols, out, ((h * 2 + s) * half + i) * cols, cols);
        }
      }
    }
    return out;
  }

  static int heads(String hfName) {
    return hfName.endsWith("q_proj.weight") ? HEADS : hfName.endsWith("k_proj.weight") ? KV_HEADS : 0;
  }

  /**
   * Writes the model as GGUF. {@code quantize} stores matrices whose rows are whole Q8_0 blocks as
   * Q8_0 and puts what they then hold (in Hugging Face order) into {@code expected}.
   */
  static Path write(String file, String arch, boolean permuteQk, boolean quantize, Map<String, float[]> expected) {
    GgufFiles g = new GgufFiles().string("general.architecture", arch).string("general.name", "stories260K")
        .u32(arch + ".block_count", 5).u32(arch + ".attention.head_count", HEADS)
        .u32(arch + ".attention.head_count_kv", KV_HEADS).f32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f)
        .u32(arch + ".context_length", 512).f32(arch + ".rope.freq_base", 10000f);
    for (var e : hf.entrySet()) {
      long[] s = shapes.get(e.getKey());
      float[] v = e.getValue();
      int heads = heads(e.getKey());
      if (permuteQk && heads > 0) {
        v = permute(v, (int) s[0], (int) s[1], heads);
      }
      long[] dims = s.length == 2 ? new long[] {s[1], s[0]} : new long[] {s[0]};
      if (quantize && s.length == 2 && s[1] % 32 == 0) {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        float[] held = new float[v.length];
        for (int r = 0; r < s[0]; r++) {
          float[] row = java.util.Arrays.copyOfRange(v, (int) (r * s[1]), (int) ((r + 1) * s[1]));
          GgmlEncode.Encoded q = GgmlEncode.quantizeQ8_0(row);
          bytes.writeBytes(q.bytes());
          System.arraycopy(q.values(), 0, held, (int) (r * s[1]), (int) s[1]);
        }
        g.tensor(ggufName(e.getKey()), dims, GgmlType.Q8_0.id(), bytes.toByteArray());
        expected.put(e.getKey(), permuteQk && heads > 0 ? unpermute(held, (int) s[0], (int) s[1], heads) : held);
      } else {
        g.tensor(ggufName(e.getKey()), dims, GgmlType.F32.id(), GgufFiles.f32(v));
        expected.put(e.getKey(), e.getValue());
      }
    }
    return g.write(dir.resolve(file));
  }

  private static void assertHolds(Path gguf, Map<String, float[]> expected) {
    try (Checkpoint c = CheckpointFormats.open(gguf)) {
      assertThat(c.format()).isEqualTo("gguf");
      assertThat(c.tensors().keySet()).containsExactlyElementsOf(hf.keySet());
      for (var e : expected.entrySet()) {
        TensorView t = c.tensor(e.getKey());
        assertThat(t.shape()).as(e.getKey()).containsExactly(shapes.get(e.getKey()));
        float[] v = new float[e.getValue().length];
        t.readFloats(0, v, 0, v.length);
        assertThat(v).as(e.getKey()).containsExactly(e.getValue());
      }
    }
  }

  @Test
  void llamaF32RoundTripsExactlyWithTheQkPermutationUndone() {
    Map<String, float[]> expected = new LinkedHashMap<>();
    Path gguf = write("llama-f32.gguf", "llama", true, false, expected);
    assertHolds(gguf, expected);
    try (GgufCheckpoint c = GgufCheckpoint.open(gguf)) {
      assertThat(c.metadata().get(GgufCheckpoint.MAPPING_KEY)).contains("architecture llama",
          "permutation of llama.cpp's converter undone in 10 tensors");
      assertThat(c.ggufName("model.layers.3.self_attn.k_proj.weight")).contains("blk.3.attn_k.weight");
      assertThat(c.tensor("model.layers.0.self_attn.q_proj.weight").isPlainFloat()).isFalse();
      assertThat(c.tensor("model.layers.0.self_attn.v_proj.weight").isPlainFloat()).isTrue();
      assertThat(c.metadata()).containsEntry("llama.attention.head_count", "8")
          .containsEntry("general.name", "stories260K");
    }
    DiffReport r = ModelDiffer.builder().backend(new ReferenceBackend()).build().compare(safetensors, gguf);
    assertThat(r.target().format()).isEqualTo("gguf");
    assertThat(r.tensors()).hasSize(hf.size());
    assertThat(r.onlyInBase()).isEmpty();
    assertThat(r.onlyInTarget()).isEmpty();
    assertThat(r.tensors()).allSatisfy(t -> assertThat(t.metric("changed_fraction")).as(t.name()).isZero());
    assertThat(r.findings()).anySatisfy(f -> assertThat(f.text()).contains("Every compared tensor is bit-identical"));
    assertThat(r.alignmentNotes()).anySatisfy(n -> assertThat(n).startsWith("Target (gguf): GGUF v3, architecture llama")
        .contains("undone in 10 tensors"));
    assertThat(r.toMarkdown()).contains("- Target (gguf): GGUF v3");
  }

  @Test
  void withoutUndoingThePermutationQAndKWouldDiffer() {
    // A file that claims llama but holds Hugging Face's row order: the reader undoes a permutation
    // that was never applied, so exactly the q and k projections come out changed.
    Map<String, float[]> ignored = new LinkedHashMap<>();
    Path gguf = write("llama-unpermuted.gguf", "llama", false, false, ignored);
    DiffReport r = ModelDiffer.builder().backend(new ReferenceBackend()).build().compare(safetensors, gguf);
    for (TensorDiff t : r.tensors()) {
      boolean qk = heads(t.name()) > 0;
      assertThat(t.metric("changed_fraction") > 0).as(t.name()).isEqualTo(qk);
    }
  }

  @Test
  void qwen2FilesAreNotPermuted() {
    Map<String, float[]> expected = new LinkedHashMap<>();
    Path gguf = write("qwen2-f32.gguf", "qwen2", false, false, expected);
    assertHolds(gguf, expected);
    try (GgufCheckpoint c = GgufCheckpoint.open(gguf)) {
      assertThat(c.metadata().get(GgufCheckpoint.MAPPING_KEY)).contains("no permutation for this architecture");
      assertThat(c.tensor("model.layers.0.self_attn.q_proj.weight").isPlainFloat()).isTrue();
    }
  }

  @Test
  void q8_0DiffMeasuresTheQuantizationError() {
    Map<String, float[]> expected = new LinkedHashMap<>();
    Path gguf = write("llama-q8_0.gguf", "llama", true, true, expected);
    assertHolds(gguf, expected);
    DiffReport r = ModelDiffer.builder().backend(new ReferenceBackend()).build().compare(safetensors, gguf);
    assertThat(r.lineage().kind()).isEqualTo(LineageVerdict.Kind.DERIVED);
    int quantized = 0;
    for (TensorDiff t : r.tensors()) {
      float[] a = hf.get(t.name());
      float[] b = expected.get(t.name());
      double dd = 0;
      double aa = 0;
      for (int i = 0; i < a.length; i++) {
        double d = (double) (b[i] - a[i]);
        dd += d * d;
        aa += (double) a[i] * a[i];
      }
      assertThat(t.metric("relative_change")).as(t.name()).isCloseTo(Math.sqrt(dd / aa), within(1e-9));
      if (t.targetQuantized()) {
        quantized++;
        assertThat(t.targetDtype()).isEqualTo("Q8_0");
        // Q8_0 keeps 8 bits per element: the error is a fraction of a percent of the weights.
        assertThat(t.metric("relative_change")).as(t.name()).isBetween(1e-4, 2e-2);
      }
    }
    // Embedding, and per layer q, k, v, o, gate, up (down_proj rows of 172 are not whole blocks).
    assertThat(quantized).isEqualTo(1 + 5 * 6);
    String sentence = quantized + " tensors are stored quantized on one side";
    assertThat(r.findings()).anySatisfy(f -> assertThat(f.text()).startsWith(sentence));
    assertThat(r.toMarkdown()).contains("| F32 / Q8_0 (quantized) |");
  }

  /** Runs the decoder in {@code model} (a GGUF file or a Hugging Face folder) on two prompts, every block's output. */
  private static java.util.Map<io.crosscoder.model.Site, float[]> forward(Path model, boolean gguf) {
    java.util.List<io.crosscoder.model.Site> sites = new java.util.ArrayList<>();
    for (int l = 0; l < 5; l++) {
      sites.add(io.crosscoder.model.Site.residPost(l));
    }
    io.crosscoder.model.TokenBatch batch = io.crosscoder.model.TokenBatch.of(
        new int[][] {{1, 403, 407, 261, 378, 432, 383, 286, 261}, {1, 376, 298, 315, 421}}, 0);
    try (io.crosscoder.backend.Kernels k = new io.crosscoder.cpu.kernels.CpuKernels(2, true);
        io.crosscoder.model.decoder.DecoderModel m = gguf ? GgufDecoders.open(model, k, null)
            : io.crosscoder.model.decoder.DecoderModel.open(model, k, null)) {
      java.util.Map<io.crosscoder.model.Site, float[]> all = new java.util.HashMap<>(m.forward(batch, sites));
      // The logits of the last block, too: the output head is the (tied) embedding.
      all.put(io.crosscoder.model.Site.residPre(0), m.logitLens(all.get(sites.get(4)), batch.sequences() * batch.length()));
      // Only the real positions: padding rows are unspecified.
      java.util.Map<io.crosscoder.model.Site, float[]> out = new java.util.HashMap<>();
      for (var e : all.entrySet()) {
        int width = e.getValue().length / (batch.sequences() * batch.length());
        float[] real = new float[(9 + 5) * width];
        System.arraycopy(e.getValue(), 0, real, 0, 9 * width);
        System.arraycopy(e.getValue(), 9 * width, real, 9 * width, 5 * width);
        out.put(e.getKey(), real);
      }
      return out;
    }
  }

  /** A Hugging Face folder of stories260K's config.json and these weights. */
  private static Path folder(String name, Map<String, float[]> weights) throws Exception {
    Path f = java.nio.file.Files.createDirectories(dir.resolve(name));
    java.nio.file.Files.copy(Path.of(GgufRoundTripTest.class.getResource("/stories260K/config.json").toURI()),
        f.resolve("config.json"));
    java.util.List<TensorView> views = new java.util.ArrayList<>();
    for (var e : weights.entrySet()) {
      views.add(TensorView.of(e.getKey(), io.crosscoder.tensor.DType.F32, shapes.get(e.getKey()),
          java.lang.foreign.MemorySegment.ofArray(e.getValue()), null));
    }
    io.crosscoder.io.safetensors.SafetensorsWriter.write(f.resolve("model.safetensors"), Map.of("format", "pt"), views);
    return f;
  }

  @Test
  void theDecoderRunsAGgufModelAsItsHuggingFaceFolder() throws Exception {
    // F32 with llama.cpp's q/k permutation: the same weights as the fixture's safetensors, so the
    // same residual streams and logits, which Stories260KTest checks against the golden forward pass.
    Path f32 = write("dec-f32.gguf", "llama", true, false, new LinkedHashMap<>());
    io.crosscoder.model.decoder.DecoderConfig c = GgufDecoders.config(f32);
    assertThat(c.layers()).isEqualTo(5);
    assertThat(c.hiddenSize()).isEqualTo(64);
    assertThat(c.intermediateSize()).isEqualTo(172);
    assertThat(c.keyValueHeads()).isEqualTo(KV_HEADS);
    assertThat(c.vocabularySize()).isEqualTo(512);
    assertThat(c.tiedEmbeddings()).isTrue();
    Path original = Path.of(GgufRoundTripTest.class.getResource("/stories260K/config.json").toURI()).getParent();
    var want = forward(original, false);
    var got = forward(f32, true);
    for (var e : want.entrySet()) {
      assertThat(got.get(e.getKey())).as(e.getKey().toString()).containsExactly(e.getValue());
    }

    // Q8_0: the decoder dequantizes at load; the oracle is the Hugging Face folder of the values
    // the blocks hold (dequantized by the test's own encoder, in Hugging Face row order).
    Map<String, float[]> held = new LinkedHashMap<>();
    Path q8 = write("dec-q8.gguf", "llama", true, true, held);
    var quantized = forward(q8, true);
    var reference = forward(folder("dec-q8-reference", held), false);
    double maxDiff = 0;
    for (var e : reference.entrySet()) {
      float[] a = quantized.get(e.getKey());
      float[] b = e.getValue();
      for (int i = 0; i < a.length; i++) {
        assertThat((double) a[i]).as("%s element %d", e.getKey(), i).isCloseTo(b[i], within(1e-5 * (1 + Math.abs(b[i]))));
      }
    }
    float[] qLogits = quantized.get(io.crosscoder.model.Site.residPre(0));
    float[] fLogits = want.get(io.crosscoder.model.Site.residPre(0));
    for (int i = 0; i < qLogits.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(qLogits[i] - fLogits[i]));
    }
    // Quantization moved the logits, but not far: Q8_0 keeps about 8 bits per weight.
    assertThat(maxDiff).isGreaterThan(0).isLessThan(0.5);
  }

  @Test
  void aGgufWithoutTheMetadataADecoderNeedsIsRefusedNamingTheKey() {
    Path noContext = new GgufFiles().string("general.architecture", "llama").u32("llama.block_count", 5)
        .tensor("token_embd.weight", new long[] {64, 512}, GgmlType.F32.id(), GgufFiles.f32(new float[64 * 512]))
        .tensor("blk.0.ffn_gate.weight", new long[] {64, 172}, GgmlType.F32.id(), GgufFiles.f32(new float[64 * 172]))
        .write(dir.resolve("no-heads.gguf"));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> GgufDecoders.config(noContext))
        .isInstanceOf(io.crosscoder.InvalidInputException.class).hasMessageContaining("no-heads.gguf")
        .hasMessageContaining("llama.attention.head_count");
    Path other = new GgufFiles().string("general.architecture", "gemma").write(dir.resolve("gemma.gguf"));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> GgufDecoders.config(other))
        .isInstanceOf(io.crosscoder.InvalidInputException.class).hasMessageContaining("gemma");
  }
}
