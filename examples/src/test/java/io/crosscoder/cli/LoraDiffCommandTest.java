package io.crosscoder.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.io.safetensors.SafetensorsWriter;
import io.crosscoder.io.synthetic.SyntheticPair;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code crosscoder diff BASE ADAPTER} on a generated Qwen2-shaped base (12 layers, hidden 256)
 * and a rank-8 LoRA on the late layers' up_proj: only those tensors move, by the closed-form
 * |scale B A| / |W|, and the report names the adapter's rank.
 */
class LoraDiffCommandTest {
  @TempDir Path dir;

  record Run(int status, String out, String err) {}

  static Run cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = CrosscoderCli.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    return new Run(status, out.toString(), err.toString());
  }

  @Test
  void diffOfBaseAndAdapterShowsTheAdaptedModulesOnly() throws Exception {
    SyntheticPair.Pair pair = SyntheticPair.write(dir.resolve("model"), SyntheticPair.TINY, DType.F32, 7);
    Path adapter = Files.createDirectories(dir.resolve("adapter"));
    Files.writeString(adapter.resolve("adapter_config.json"),
        "{\"peft_type\": \"LORA\", \"r\": 8, \"lora_alpha\": 16, \"target_modules\": [\"up_proj\"]}");
    int in = SyntheticPair.TINY.hidden();
    int out = SyntheticPair.TINY.intermediate();
    Random rnd = new Random(3);
    List<TensorView> views = new ArrayList<>();
    try (Arena arena = Arena.ofConfined()) {
      for (int l = 8; l < 12; l++) {
        String m = "base_model.model.model.layers." + l + ".mlp.up_proj.";
        views.add(view(arena, m + "lora_A.weight", new long[] {8, in}, rnd, 0.05));
        views.add(view(arena, m + "lora_B.weight", new long[] {out, 8}, rnd, 0.01));
      }
      SafetensorsWriter.write(adapter.resolve("adapter_model.safetensors"), Map.of(), views);
    }

    Run r = cli("diff", pair.base().toString(), adapter.toString(), "--format", "json", "--no-progress");
    assertThat(r.status()).as(r.err()).isZero();
    JsonNode json = new ObjectMapper().readTree(r.out());
    assertThat(json.get("target").get("format").asText()).isEqualTo("safetensors+lora");
    assertThat(json.get("alignment_notes").get(0).asText()).contains("rank r = 8", "lora_alpha = 16",
        "scale alpha/r = 2", "4 target modules (up_proj)");
    int moved = 0;
    for (JsonNode t : json.get("tensors")) {
      boolean adapted = t.get("name").asText().matches("model\\.layers\\.(8|9|10|11)\\.mlp\\.up_proj\\.weight");
      double changed = t.get("metrics").get("changed_fraction").asDouble();
      if (adapted) {
        moved++;
        assertThat(t.get("target_dtype").asText()).isEqualTo("F32+LoRA(r=8)");
        assertThat(changed).isGreaterThan(0.99);
        // |scale B A| / |W| with independent Gaussian factors: about scale * sqrt(r * out * in) *
        // 0.05 * 0.01 / (0.02 * sqrt(out * in)) = 2 * sqrt(8) * 0.025 = 0.141 (a few % spread).
        assertThat(t.get("metrics").get("relative_change").asDouble()).isCloseTo(0.1414, within(0.015));
      } else {
        assertThat(changed).as(t.get("name").asText()).isZero();
      }
    }
    assertThat(moved).isEqualTo(4);

    Run reversed = cli("diff", adapter.toString(), pair.base().toString());
    assertThat(reversed.status()).isEqualTo(2);
    assertThat(reversed.err()).contains("is a LoRA adapter; give the base model first");
  }

  private static TensorView view(Arena arena, String name, long[] shape, Random rnd, double std) {
    int n = (int) (shape[0] * shape[1]);
    MemorySegment seg = arena.allocate(4L * n);
    for (int i = 0; i < n; i++) {
      seg.set(TensorView.Layouts.F32, 4L * i, (float) (std * rnd.nextGaussian()));
    }
    return TensorView.of(name, DType.F32, shape, seg, null);
  }
}
