package io.crosscoder.model.decoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.InvalidInputException;
import io.crosscoder.backend.Kernels;
import io.crosscoder.io.safetensors.SafetensorsWriter;
import io.crosscoder.model.Site;
import io.crosscoder.model.TokenBatch;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input to {@link DecoderModel}: each case is a clear {@link InvalidInputException} naming the
 * file and the field or tensor, raised before backend memory is taken for the model (the kernels
 * hold no buffer afterwards that the test could leak, and the checkpoint is closed).
 */
class DecoderInputErrorsTest {
  @TempDir
  Path dir;
  private Kernels kernels;

  @BeforeEach
  void open() {
    kernels = TestKernels.VECTOR.get();
  }

  @AfterEach
  void close() {
    kernels.close();
  }

  private TinyModel model(String name, TinyModel.Spec spec) {
    return TinyModel.write(dir.resolve(name), spec, 1, false);
  }

  /** A good model whose config.json is then edited. */
  private Path withConfig(String name, Consumer<ObjectNode> edit) throws IOException {
    TinyModel m = model(name, new TinyModel.Spec());
    ObjectNode c = m.config();
    edit.accept(c);
    Files.writeString(m.folder.resolve("config.json"), c.toPrettyString());
    return m.folder;
  }

  private InvalidInputException openFails(Path folder) {
    try {
      DecoderModel.open(folder, kernels, null).close();
    } catch (InvalidInputException e) {
      return e;
    }
    throw new AssertionError("opening " + folder + " should have failed");
  }

  @Test
  void unsupportedArchitectureNamesTheFieldAndWhatIsSupported() throws IOException {
    Path f = withConfig("gpt2", c -> c.putArray("architectures").add("GPT2LMHeadModel"));
    InvalidInputException e = openFails(f);
    assertThat(e.file()).contains(f.resolve("config.json"));
    assertThat(e).hasMessageContaining("config.json").hasMessageContaining("'architectures'")
        .hasMessageContaining("GPT2LMHeadModel").hasMessageContaining("Qwen2ForCausalLM");
  }

  @Test
  void unsupportedRopeScalingTypeIsRefused() throws IOException {
    Path f = withConfig("yarn", c -> c.putObject("rope_scaling").put("rope_type", "yarn").put("factor", 4.0));
    assertThat(openFails(f)).hasMessageContaining("config.json").hasMessageContaining("rope_scaling.rope_type")
        .hasMessageContaining("'yarn' is not supported");
    Path g = withConfig("llama3-incomplete", c -> c.putObject("rope_scaling").put("type", "llama3").put("factor", 8.0));
    assertThat(openFails(g)).hasMessageContaining("rope_scaling.low_freq_factor").hasMessageContaining("missing");
  }

  @Test
  void badConfigFieldsAreNamed() throws IOException {
    assertThat(openFails(withConfig("no-hidden", c -> c.remove("hidden_size"))))
        .hasMessageContaining("'hidden_size': is missing");
    assertThat(openFails(withConfig("text-hidden", c -> c.put("hidden_size", "24"))))
        .hasMessageContaining("'hidden_size': must be a positive integer");
    assertThat(openFails(withConfig("gelu", c -> c.put("hidden_act", "gelu"))))
        .hasMessageContaining("'hidden_act'").hasMessageContaining("gelu");
    assertThat(openFails(withConfig("heads", c -> c.put("num_key_value_heads", 3))))
        .hasMessageContaining("'num_key_value_heads'");
    assertThat(openFails(withConfig("partial", c -> c.put("partial_rotary_factor", 0.5))))
        .hasMessageContaining("'partial_rotary_factor'");
    TinyModel m = model("bad-json", new TinyModel.Spec());
    Files.writeString(m.folder.resolve("config.json"), "{\"hidden_size\": 24,");
    assertThat(openFails(m.folder)).hasMessageContaining("config.json").hasMessageContaining("not valid JSON");
    Files.delete(m.folder.resolve("config.json"));
    assertThat(openFails(m.folder)).hasMessageContaining("config.json").hasMessageContaining("no such file");
  }

  @Test
  void configAndWeightsThatDisagreeNameTheTensor() throws IOException {
    // A config asking for more heads than the file has: the q_proj shape disagrees.
    InvalidInputException shape = openFails(withConfig("wide", c -> c.put("num_attention_heads", 6).put("head_dim", 6)));
    assertThat(shape.tensor()).contains("model.layers.0.self_attn.q_proj.weight");
    assertThat(shape).hasMessageContaining("model.safetensors").hasMessageContaining("[24, 24]")
        .hasMessageContaining("[36, 24]").hasMessageContaining("num_attention_heads 6");
    // Three layers in the config, two in the file.
    InvalidInputException missing = openFails(withConfig("deep", c -> c.put("num_hidden_layers", 3)));
    assertThat(missing.tensor()).contains("model.layers.2.input_layernorm.weight");
    assertThat(missing).hasMessageContaining("missing");
    // Untied in the config, no lm_head in the file.
    assertThat(openFails(withConfig("untied", c -> c.put("tie_word_embeddings", false))))
        .hasMessageContaining("lm_head.weight").hasMessageContaining("tie_word_embeddings");
    // A Llama file that a config calls Qwen2: the biases are missing.
    assertThat(openFails(withConfig("not-qwen", c -> c.putArray("architectures").add("Qwen2ForCausalLM"))))
        .hasMessageContaining("model.layers.0.self_attn.q_proj.bias").hasMessageContaining("biases");
  }

  @Test
  void aTensorOfANonFloatTypeIsRefused() throws IOException {
    TinyModel m = model("ints", new TinyModel.Spec());
    Path file = m.folder.resolve("model.safetensors");
    try (Arena arena = Arena.ofConfined();
        var cp = io.crosscoder.checkpoint.CheckpointFormats.open(file)) {
      List<TensorView> views = new ArrayList<>();
      for (TensorView t : cp.tensors().values()) {
        if (t.name().equals("model.norm.weight")) {
          views.add(TensorView.of(t.name(), DType.I32, t.shape(), arena.allocate(t.data().byteSize()), null));
        } else {
          views.add(t);
        }
      }
      SafetensorsWriter.write(m.folder.resolve("other.safetensors.tmpcopy"), Map.of(), views);
    }
    Files.move(m.folder.resolve("other.safetensors.tmpcopy"), file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    InvalidInputException e = openFails(m.folder);
    assertThat(e.tensor()).contains("model.norm.weight");
    assertThat(e).hasMessageContaining("I32").hasMessageContaining("F32, F16 or BF16");
  }

  @Test
  void batchesTheModelCannotRunAreRefusedWithTheReason() {
    TinyModel.Spec spec = new TinyModel.Spec();
    spec.maxPositions = 8;
    TinyModel m = model("short", spec);
    try (DecoderModel model = DecoderModel.open(m.folder, kernels, null)) {
      Site site = Site.residPost(1);
      assertThatThrownBy(() -> model.forward(TokenBatch.of(new int[][] {{1, 2}, new int[9]}, 0), List.of(site)))
          .isInstanceOf(InvalidInputException.class).hasMessageContaining("config.json")
          .hasMessageContaining("sequence 1 has 9 tokens").hasMessageContaining("max_position_embeddings = 8");
      assertThatThrownBy(() -> model.forward(TokenBatch.of(new int[][] {{1, 2, 50}}, 0), List.of(site)))
          .isInstanceOf(InvalidInputException.class)
          .hasMessageContaining("token id 50 at sequence 0, position 2").hasMessageContaining("[0, 50)");
      assertThatThrownBy(() -> model.forward(TokenBatch.of(new int[][] {{-1}}, 0), List.of(site)))
          .isInstanceOf(InvalidInputException.class).hasMessageContaining("token id -1");
      assertThatThrownBy(() -> model.forward(TokenBatch.of(new int[][] {{1}}, 0), List.of(Site.residPost(2))))
          .isInstanceOf(InvalidInputException.class).hasMessageContaining("out of range");
      assertThatThrownBy(() -> model.logitLens(new float[10], 1)).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("24");
      assertThatThrownBy(model::tokenizer).isInstanceOf(IllegalStateException.class);
    }
  }

  @Test
  void aClosedModelRefusesWorkAndCloseIsIdempotent() {
    TinyModel m = model("closed", new TinyModel.Spec());
    VocabTokenizer tokenizer = new VocabTokenizer("/stories260K/vocab.json") {
      @Override
      public int vocabularySize() {
        return 50;
      }
    };
    DecoderModel model = DecoderModel.open(m.folder, kernels, tokenizer);
    assertThat(model.tokenizer()).isSameAs(tokenizer);
    model.close();
    assertThat(tokenizer.closed).as("the model closes its tokenizer").isTrue();
    model.close();
    assertThatThrownBy(() -> model.forward(TokenBatch.of(new int[][] {{1}}, 0), List.of(Site.residPre(0))))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
  }

  @Test
  void aTokenizerWithMoreIdsThanTheModelIsRefused() {
    TinyModel m = model("small-vocab", new TinyModel.Spec());
    assertThatThrownBy(() -> DecoderModel.open(m.folder, kernels, new VocabTokenizer("/stories260K/vocab.json")))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("vocab_size").hasMessageContaining("512");
  }

  @Test
  void aFolderWithoutWeightsOrNotAFolder() throws IOException {
    Path empty = Files.createDirectories(dir.resolve("empty"));
    Files.writeString(empty.resolve("config.json"), new ObjectMapper().writeValueAsString(
        model("for-config", new TinyModel.Spec()).config()));
    assertThat(openFails(empty)).hasMessageContaining("empty");
    assertThat(openFails(empty.resolve("config.json"))).hasMessageContaining("not a folder");
  }
}
