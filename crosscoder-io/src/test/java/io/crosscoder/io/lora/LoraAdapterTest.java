package io.crosscoder.io.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.InvalidInputException;
import io.crosscoder.ModelDiffer;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.checkpoint.CheckpointFormats;
import io.crosscoder.io.safetensors.SafetensorsWriter;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.TensorDiff;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import io.crosscoder.testing.InMemoryCheckpoint;
import io.crosscoder.testing.ReferenceBackend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A LoRA adapter on a real model (stories260K, hidden 64, 5 layers): rank 4 on every q_proj, rank
 * 2 on every v_proj (rank_pattern), an embedding LoRA on embed_tokens, lora_alpha 8. The test
 * merges it explicitly in f64 into a safetensors copy, and checks the adapter merged on read
 * against that copy, and each module's |Delta W| against the closed form {@code scale
 * sqrt(tr((B^T B)(A A^T)))}.
 */
class LoraAdapterTest {
  @TempDir static Path dir;
  static Path base;
  static Map<String, float[]> weights = new LinkedHashMap<>();
  static Map<String, long[]> shapes = new LinkedHashMap<>();

  private static final double ALPHA = 8;

  @BeforeAll
  static void load() throws Exception {
    base = Path.of(LoraAdapterTest.class.getResource("/stories260K/model.safetensors").toURI());
    try (Checkpoint c = CheckpointFormats.open(base)) {
      for (TensorView t : c.tensors().values()) {
        float[] v = new float[(int) t.elementCount()];
        t.readFloats(0, v, 0, v.length);
        weights.put(t.name(), v);
        shapes.put(t.name(), t.shape());
      }
    }
  }

  /** Factors of one module, as the test drew them. */
  record Factors(String module, String weight, float[] a, float[] b, int r, long in, long out, boolean embedding) {
    double scale() {
      return ALPHA / r;
    }
  }

  static float[] draw(Random rnd, int n, double std) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (std * rnd.nextGaussian());
    }
    return v;
  }

  /** Writes an adapter folder; returns its factors by weight name. */
  static Map<String, Factors> writeAdapter(Path folder, String config, boolean embedding) throws Exception {
    Files.createDirectories(folder);
    Files.writeString(folder.resolve("adapter_config.json"), config);
    Random rnd = new Random(99);
    Map<String, Factors> out = new LinkedHashMap<>();
    Map<String, float[]> tensors = new LinkedHashMap<>();
    Map<String, long[]> tshapes = new LinkedHashMap<>();
    for (int l = 0; l < 5; l++) {
      for (String proj : new String[] {"q_proj", "v_proj"}) {
        String module = "model.layers." + l + ".self_attn." + proj;
        long[] s = shapes.get(module + ".weight");
        int r = proj.equals("q_proj") ? 4 : 2;
        float[] a = draw(rnd, (int) (r * s[1]), 0.1);
        float[] b = draw(rnd, (int) (s[0] * r), 0.05);
        out.put(module + ".weight", new Factors(module, module + ".weight", a, b, r, s[1], s[0], false));
        tensors.put("base_model.model." + module + ".lora_A.weight", a);
        tshapes.put("base_model.model." + module + ".lora_A.weight", new long[] {r, s[1]});
        tensors.put("base_model.model." + module + ".lora_B.weight", b);
        tshapes.put("base_model.model." + module + ".lora_B.weight", new long[] {s[0], r});
      }
    }
    if (embedding) {
      long[] s = shapes.get("model.embed_tokens.weight");
      float[] a = draw(rnd, (int) (4 * s[0]), 0.1);
      float[] b = draw(rnd, (int) (s[1] * 4), 0.05);
      out.put("model.embed_tokens.weight", new Factors("model.embed_tokens", "model.embed_tokens.weight", a, b, 4,
          s[0], s[1], true));
      tensors.put("base_model.model.model.embed_tokens.lora_embedding_A", a);
      tshapes.put("base_model.model.model.embed_tokens.lora_embedding_A", new long[] {4, s[0]});
      tensors.put("base_model.model.model.embed_tokens.lora_embedding_B", b);
      tshapes.put("base_model.model.model.embed_tokens.lora_embedding_B", new long[] {s[1], 4});
    }
    write(folder.resolve("adapter_model.safetensors"), tensors, tshapes);
    return out;
  }

  static void write(Path file, Map<String, float[]> tensors, Map<String, long[]> tshapes) {
    try (InMemoryCheckpoint m = new InMemoryCheckpoint("adapter")) {
      tensors.forEach((n, v) -> m.add(n, DType.F32, tshapes.get(n), v));
      SafetensorsWriter.write(file, Map.of("format", "pt"), m.tensors().values());
    }
  }

  static final String CONFIG = """
      {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "rank_pattern": {"v_proj": 2},
       "target_modules": ["q_proj", "v_proj", "embed_tokens"], "base_model_name_or_path": "stories260K",
       "bias": "none", "use_rslora": false, "fan_in_fan_out": false}
      """;

  /** W + scale B A (or (B A)^T for the embedding), summed in f64, by the test. */
  static float[] merge(float[] w, Factors f) {
    float[] out = w.clone();
    int rows = (int) (f.embedding ? f.in : f.out);
    int cols = (int) (f.embedding ? f.out : f.in);
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        double s = 0;
        for (int k = 0; k < f.r; k++) {
          s += f.embedding ? (double) f.b[j * f.r + k] * f.a[k * rows + i] : (double) f.b[i * f.r + k] * f.a[k * cols + j];
        }
        out[i * cols + j] = (float) (w[i * cols + j] + f.scale() * s);
      }
    }
    return out;
  }

  /** {@code scale |B A|_F = scale sqrt(sum_kl (B^T B)_kl (A A^T)_kl)}. */
  static double updateNorm(Factors f) {
    int r = f.r;
    double[][] bb = new double[r][r];
    double[][] aa = new double[r][r];
    int outN = (int) f.out;
    int inN = (int) f.in;
    for (int k = 0; k < r; k++) {
      for (int l = 0; l < r; l++) {
        for (int o = 0; o < outN; o++) {
          bb[k][l] += (double) f.b[o * r + k] * f.b[o * r + l];
        }
        for (int i = 0; i < inN; i++) {
          aa[k][l] += (double) f.a[k * inN + i] * f.a[l * inN + i];
        }
      }
    }
    double t = 0;
    for (int k = 0; k < r; k++) {
      for (int l = 0; l < r; l++) {
        t += bb[k][l] * aa[k][l];
      }
    }
    return f.scale() * Math.sqrt(t);
  }

  @Test
  void mergedOnReadEqualsTheExplicitlyMergedCopy() throws Exception {
    Path folder = dir.resolve("lora");
    Map<String, Factors> factors = writeAdapter(folder, CONFIG, true);
    Map<String, float[]> merged = new LinkedHashMap<>();
    weights.forEach((n, w) -> merged.put(n, factors.containsKey(n) ? merge(w, factors.get(n)) : w));
    Path mergedFile = dir.resolve("merged.safetensors");
    write(mergedFile, merged, shapes);

    try (Checkpoint b = CheckpointFormats.open(base); LoraAdapter adapter = LoraAdapter.open(folder);
        Checkpoint m = adapter.applyTo(b)) {
      assertThat(adapter.modules()).hasSize(11);
      assertThat(adapter.modules()).filteredOn(x -> x.module().endsWith("v_proj")).allSatisfy(x -> {
        assertThat(x.rank()).isEqualTo(2);
        assertThat(x.scale()).isEqualTo(4.0);
      });
      for (var e : merged.entrySet()) {
        TensorView t = m.tensor(e.getKey());
        float[] v = new float[e.getValue().length];
        t.readFloats(0, v, 0, v.length);
        for (int i = 0; i < v.length; i++) {
          assertThat(v[i]).as(e.getKey() + "[" + i + "]").isCloseTo(e.getValue()[i], within(1e-6f));
        }
      }
      float[] row = new float[20];
      m.tensor("model.embed_tokens.weight").readRow(300, 30, row, 0, 20);
      for (int j = 0; j < 20; j++) {
        assertThat(row[j]).isCloseTo(merged.get("model.embed_tokens.weight")[300 * 64 + 30 + j], within(1e-6f));
      }

      DiffReport onRead = ModelDiffer.builder().backend(new ReferenceBackend()).build().compare(b, m);
      DiffReport explicit = ModelDiffer.builder().backend(new ReferenceBackend()).build()
          .compare(base, mergedFile);
      assertThat(onRead.tensors()).hasSameSizeAs(explicit.tensors());
      for (int i = 0; i < onRead.tensors().size(); i++) {
        TensorDiff x = onRead.tensors().get(i);
        TensorDiff y = explicit.tensors().get(i);
        assertThat(x.name()).isEqualTo(y.name());
        assertThat(x.metric("relative_change")).as(x.name()).isCloseTo(y.metric("relative_change"),
            within(1e-6 * Math.max(1e-3, y.metric("relative_change"))));
        Factors f = factors.get(x.name());
        if (f == null) {
          assertThat(x.metric("changed_fraction")).as(x.name()).isZero();
          assertThat(x.targetDtype()).isEqualTo("F32");
        } else {
          assertThat(x.metric("diff_norm")).as(x.name()).isCloseTo(updateNorm(f), within(1e-5 * updateNorm(f)));
          assertThat(x.targetDtype()).isEqualTo("F32+LoRA(r=" + f.r + ")");
        }
      }
      assertThat(onRead.target().format()).isEqualTo("safetensors+lora");
      assertThat(onRead.target().path()).isEqualTo(folder.toString());
      assertThat(onRead.alignmentNotes()).anySatisfy(n -> assertThat(n).startsWith("Target (safetensors+lora):")
          .contains("rank r = 2-4", "lora_alpha = 8", "scale alpha/r = 2", "11 target modules (embed_tokens, q_proj,"
              + " v_proj)", "rank_pattern", "trained on stories260K"));
    }
  }

  @Test
  void rsLoraAndFanInFanOutScaleAndTransposeTheUpdate() throws Exception {
    // rsLoRA: scale alpha / sqrt(r) = 8 / 2 = 4 for r = 4.
    Path folder = dir.resolve("rslora");
    Map<String, Factors> factors = writeAdapter(folder, """
        {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "use_rslora": true, "rank_pattern": {"v_proj": 2}}
        """, false);
    try (Checkpoint b = CheckpointFormats.open(base); LoraAdapter adapter = LoraAdapter.open(folder);
        Checkpoint m = adapter.applyTo(b)) {
      Factors q = factors.get("model.layers.0.self_attn.q_proj.weight");
      LoraModule mq = adapter.modules().stream().filter(x -> x.weight().equals(q.weight())).findFirst().orElseThrow();
      assertThat(mq.scale()).isEqualTo(4.0);
      float[] got = new float[64 * 64];
      m.tensor(q.weight()).readFloats(0, got, 0, got.length);
      float[] w = weights.get(q.weight());
      double dd = 0;
      for (int i = 0; i < got.length; i++) {
        dd += Math.pow(got[i] - w[i], 2);
      }
      // The closed form with alpha / r = 2 is half of what rsLoRA's 4 gives.
      assertThat(Math.sqrt(dd)).isCloseTo(2 * updateNorm(q), within(1e-5 * updateNorm(q)));
    }
  }

  @Test
  void shapesThatDoNotFitTheBaseAreRefusedNamingFileAndTensor() throws Exception {
    Path folder = dir.resolve("bad");
    Files.createDirectories(folder);
    Files.writeString(folder.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8}");
    String a = "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight";
    String b = "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight";
    write(folder.resolve("adapter_model.safetensors"), Map.of(a, new float[4 * 63], b, new float[64 * 4]),
        Map.of(a, new long[] {4, 63}, b, new long[] {64, 4}));
    try (Checkpoint base0 = CheckpointFormats.open(base); LoraAdapter adapter = LoraAdapter.open(folder)) {
      assertThatThrownBy(() -> adapter.applyTo(base0)).isInstanceOf(InvalidInputException.class)
          .hasMessageContaining(a).hasMessageContaining("adapter_model.safetensors")
          .hasMessageContaining("[4, 63]").hasMessageContaining("(in = 64)");
    }
    write(folder.resolve("adapter_model.safetensors"), Map.of(a, new float[4 * 64], b, new float[32 * 4]),
        Map.of(a, new long[] {4, 64}, b, new long[] {32, 4}));
    try (Checkpoint base0 = CheckpointFormats.open(base); LoraAdapter adapter = LoraAdapter.open(folder)) {
      assertThatThrownBy(() -> adapter.applyTo(base0)).isInstanceOf(InvalidInputException.class)
          .hasMessageContaining(b).hasMessageContaining("(out = 64)");
    }
    String gone = "base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight";
    String goneB = "base_model.model.model.layers.9.self_attn.q_proj.lora_B.weight";
    write(folder.resolve("adapter_model.safetensors"), Map.of(gone, new float[4 * 64], goneB, new float[64 * 4]),
        Map.of(gone, new long[] {4, 64}, goneB, new long[] {64, 4}));
    try (Checkpoint base0 = CheckpointFormats.open(base); LoraAdapter adapter = LoraAdapter.open(folder)) {
      assertThatThrownBy(() -> adapter.applyTo(base0)).isInstanceOf(InvalidInputException.class)
          .hasMessageContaining(gone).hasMessageContaining("has no tensor model.layers.9.self_attn.q_proj.weight");
    }
    write(folder.resolve("adapter_model.safetensors"), Map.of(a, new float[4 * 64]), Map.of(a, new long[] {4, 64}));
    assertThatThrownBy(() -> LoraAdapter.open(folder)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining(a).hasMessageContaining("no lora_B partner");
    write(folder.resolve("adapter_model.safetensors"), Map.of(a, new float[8 * 64], b, new float[64 * 8]),
        Map.of(a, new long[] {8, 64}, b, new long[] {64, 8}));
    assertThatThrownBy(() -> LoraAdapter.open(folder)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("has rank 8 but adapter_config.json gives module model.layers.1.self_attn.q_proj rank 4");
  }

  @Test
  void configsThatAreNotPlainLoraAreRefused() throws Exception {
    Path folder = dir.resolve("cfg");
    Files.createDirectories(folder);
    Path cfg = folder.resolve("adapter_config.json");
    Files.writeString(cfg, "{\"peft_type\": \"LORA\", \"r\": 4, \"use_dora\": true}");
    assertThatThrownBy(() -> LoraAdapter.open(folder)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("use_dora").hasMessageContaining("adapter_config.json");
    Files.writeString(cfg, "{\"peft_type\": \"IA3\"}");
    assertThatThrownBy(() -> LoraAdapter.open(folder)).hasMessageContaining("only LoRA adapters");
    Files.writeString(cfg, "{\"peft_type\": \"LORA\", \"r\": 0}");
    assertThatThrownBy(() -> LoraAdapter.open(folder)).hasMessageContaining("r in").hasMessageContaining("positive");
    Files.writeString(cfg, "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": \"16\"}");
    assertThatThrownBy(() -> LoraAdapter.open(folder)).hasMessageContaining("lora_alpha");
    Files.writeString(cfg, "{\"peft_type\": \"LORA\", \"r\": 4");
    assertThatThrownBy(() -> LoraAdapter.open(folder)).hasMessageContaining("not valid JSON");
    Files.writeString(cfg, "{\"peft_type\": \"LORA\", \"r\": 4}");
    Files.write(folder.resolve("adapter_model.bin"), new byte[] {1, 2, 3});
    assertThatThrownBy(() -> LoraAdapter.open(folder)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("adapter_model.bin is a PyTorch pickle");
    assertThat(LoraAdapter.isAdapter(folder)).isTrue();
    assertThat(LoraAdapter.isAdapter(base)).isFalse();
  }
}
