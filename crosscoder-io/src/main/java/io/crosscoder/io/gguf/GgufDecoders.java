package io.crosscoder.io.gguf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.InvalidInputException;
import io.crosscoder.backend.Kernels;
import io.crosscoder.model.Tokenizer;
import io.crosscoder.model.decoder.DecoderConfig;
import io.crosscoder.model.decoder.DecoderModel;
import io.crosscoder.tensor.TensorView;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Decoders from GGUF files (llama.cpp): the {@link DecoderConfig} that a Hugging Face {@code
 * config.json} would hold, read from the file's metadata and tensor shapes, and the {@link
 * DecoderModel} over the file's tensors, which {@link GgufCheckpoint} names as Hugging Face does
 * (q/k rows unpermuted). Block-quantized tensors (Q8_0, Q4_K, ...) are dequantized to F32 once,
 * when the model is loaded, so a model takes four bytes per weight on the backend.
 *
 * <p>Metadata read, for {@code ARCH} = {@code general.architecture} ({@code llama}, {@code
 * qwen2}, {@code qwen3}; Mistral models are written as {@code llama}): {@code
 * ARCH.block_count}, {@code ARCH.attention.head_count}, {@code ARCH.attention.head_count_kv}
 * (default: the head count), {@code ARCH.attention.key_length} (default: width / heads), {@code
 * ARCH.attention.layer_norm_rms_epsilon}, {@code ARCH.rope.freq_base} (default 10000), {@code
 * ARCH.context_length}; the width, MLP width and vocabulary come from the tensors' shapes, and the
 * output head is tied when the file has no {@code output.weight}. RoPE scaling in GGUF metadata is
 * refused (not read yet).
 */
public final class GgufDecoders {
  private GgufDecoders() {}

  /**
   * Reads the decoder configuration of {@code gguf}.
   *
   * @param gguf a GGUF file (opened and closed here)
   * @return the configuration, as {@link DecoderConfig#parse} would read the equivalent {@code
   *     config.json}
   * @throws InvalidInputException naming the file and the metadata key when it is missing or not
   *     one this library runs
   */
  public static DecoderConfig config(Path gguf) {
    try (GgufCheckpoint c = GgufCheckpoint.open(gguf)) {
      return config(c);
    }
  }

  /**
   * The configuration of an open GGUF checkpoint; see {@link #config(Path)}.
   *
   * @param c the checkpoint, left open
   * @return the configuration
   */
  public static DecoderConfig config(GgufCheckpoint c) {
    Objects.requireNonNull(c, "checkpoint");
    Map<String, GgufValue> m = c.ggufMetadata();
    Path file = c.path();
    String arch = string(m, file, "general.architecture");
    String className = switch (arch) {
      case "llama" -> "LlamaForCausalLM";
      case "qwen2" -> "Qwen2ForCausalLM";
      case "qwen3" -> "Qwen3ForCausalLM";
      default -> throw new InvalidInputException(file, null, "metadata 'general.architecture' is '" + arch
          + "'; the decoder runs llama, qwen2 and qwen3 GGUF files");
    };
    for (String key : m.keySet()) {
      if (key.startsWith(arch + ".rope.scaling.")) {
        throw new InvalidInputException(file, null, "metadata '" + key + "': RoPE scaling in GGUF files is not read"
            + " yet; convert the model without it or run the Hugging Face folder");
      }
    }
    TensorView embed = c.find("model.embed_tokens.weight").orElseThrow(() -> new InvalidInputException(file,
        "token_embd.weight", "missing: a decoder needs its token embedding"));
    TensorView gate = c.find("model.layers.0.mlp.gate_proj.weight").orElseThrow(() -> new InvalidInputException(file,
        "blk.0.ffn_gate.weight", "missing: the MLP's width is read from it"));
    long[] e = embed.shape();
    ObjectMapper json = new ObjectMapper();
    ObjectNode n = json.createObjectNode();
    n.putArray("architectures").add(className);
    n.put("hidden_size", e[1]);
    n.put("vocab_size", e[0]);
    n.put("intermediate_size", gate.shape()[0]);
    long heads = integer(m, file, arch + ".attention.head_count");
    n.put("num_hidden_layers", integer(m, file, arch + ".block_count"));
    n.put("num_attention_heads", heads);
    n.put("num_key_value_heads", m.containsKey(arch + ".attention.head_count_kv")
        ? integer(m, file, arch + ".attention.head_count_kv") : heads);
    if (m.containsKey(arch + ".attention.key_length")) {
      n.put("head_dim", integer(m, file, arch + ".attention.key_length"));
    }
    n.put("max_position_embeddings", integer(m, file, arch + ".context_length"));
    n.put("rms_norm_eps", number(m, file, arch + ".attention.layer_norm_rms_epsilon"));
    n.put("rope_theta", m.containsKey(arch + ".rope.freq_base") ? number(m, file, arch + ".rope.freq_base") : 10000.0);
    n.put("hidden_act", "silu");
    n.put("tie_word_embeddings", c.find("lm_head.weight").isEmpty());
    return DecoderConfig.parse(n, file);
  }

  /**
   * Opens the decoder in {@code gguf} on {@code kernels}.
   *
   * @param gguf a GGUF file of a decoder this library runs
   * @param kernels the backend's kernels; the caller's, closed after the model
   * @param tokenizer the model's tokenizer, owned by the model once it is open; null when only
   *     token ids are used
   * @return the open model, which the caller closes
   * @throws InvalidInputException naming the file and the key or tensor on bad input
   */
  public static DecoderModel open(Path gguf, Kernels kernels, Tokenizer tokenizer) {
    return DecoderModel.builder(gguf, kernels).config(config(gguf)).tokenizer(tokenizer).build();
  }

  private static GgufValue value(Map<String, GgufValue> m, Path file, String key) {
    GgufValue v = m.get(key);
    if (v == null) {
      throw new InvalidInputException(file, null, "metadata '" + key + "' is missing; a decoder needs it");
    }
    return v;
  }

  private static String string(Map<String, GgufValue> m, Path file, String key) {
    GgufValue v = value(m, file, key);
    if (!(v.value() instanceof String s)) {
      throw new InvalidInputException(file, null, "metadata '" + key + "' is " + v.type() + ", not a string");
    }
    return s.toLowerCase(Locale.ROOT);
  }

  private static long integer(Map<String, GgufValue> m, Path file, String key) {
    GgufValue v = value(m, file, key);
    long x = v.asLong().orElseThrow(() -> new InvalidInputException(file, null, "metadata '" + key + "' is "
        + v.type() + ", not an integer"));
    if (x < 1 || x > Integer.MAX_VALUE) {
      throw new InvalidInputException(file, null, "metadata '" + key + "' is " + x + "; expected 1 to "
          + Integer.MAX_VALUE);
    }
    return x;
  }

  private static double number(Map<String, GgufValue> m, Path file, String key) {
    GgufValue v = value(m, file, key);
    if (v.value() instanceof Number x && !v.type().integer()) {
      return x.doubleValue();
    }
    if (v.type().integer()) {
      return v.asLong().getAsLong();
    }
    throw new InvalidInputException(file, null, "metadata '" + key + "' is " + v.type() + ", not a number");
  }
}
