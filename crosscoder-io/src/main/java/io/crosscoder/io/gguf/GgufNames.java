package io.crosscoder.io.gguf;

import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * llama.cpp's tensor names mapped back to Hugging Face's, for the decoder families whose GGUF
 * names llama.cpp's converter ({@code convert_hf_to_gguf.py}) writes in the common scheme (Llama,
 * Mistral, Qwen2, Qwen3 and the like):
 *
 * <table>
 *   <caption>GGUF name to Hugging Face name</caption>
 *   <tr><td>{@code token_embd.weight}</td><td>{@code model.embed_tokens.weight}</td></tr>
 *   <tr><td>{@code output_norm.weight}</td><td>{@code model.norm.weight}</td></tr>
 *   <tr><td>{@code output.weight}</td><td>{@code lm_head.weight}</td></tr>
 *   <tr><td>{@code blk.N.attn_norm}</td><td>{@code model.layers.N.input_layernorm}</td></tr>
 *   <tr><td>{@code blk.N.attn_q / attn_k / attn_v / attn_output}</td>
 *       <td>{@code model.layers.N.self_attn.q_proj / k_proj / v_proj / o_proj}</td></tr>
 *   <tr><td>{@code blk.N.attn_q_norm / attn_k_norm}</td><td>{@code model.layers.N.self_attn.q_norm / k_norm}</td></tr>
 *   <tr><td>{@code blk.N.ffn_norm}</td><td>{@code model.layers.N.post_attention_layernorm}</td></tr>
 *   <tr><td>{@code blk.N.ffn_gate / ffn_up / ffn_down}</td>
 *       <td>{@code model.layers.N.mlp.gate_proj / up_proj / down_proj}</td></tr>
 * </table>
 *
 * <p>each with its {@code .weight} or {@code .bias} suffix. Other names (fused {@code attn_qkv},
 * {@code rope_freqs}, mixture-of-experts tensors) keep their GGUF names.
 *
 * <p><b>The q/k row permutation.</b> For the architectures in {@link #PERMUTED_ARCHITECTURES}
 * the converter reorders the rows of {@code q_proj} and {@code k_proj} (weights and biases) within
 * each head, because llama.cpp rotates interleaved pairs {@code (2i, 2i+1)} where Hugging Face
 * rotates {@code (i, i + h/2)}: with {@code h} the head dimension, Hugging Face row {@code r = head
 * h + s h/2 + i} ({@code s} in {0, 1}, {@code i < h/2}) is stored as GGUF row {@code head h + 2i +
 * s}. The head count is {@code ARCH.attention.head_count} for q and {@code
 * ARCH.attention.head_count_kv} (default: the head count) for k. The reader undoes it, so the
 * views hold Hugging Face's rows. Other architectures (qwen2, qwen3, gemma, phi3, ...) use
 * rotate-half in llama.cpp too and are stored unpermuted.
 */
final class GgufNames {
  /** Architectures ({@code general.architecture}) whose q/k rows llama.cpp's converter permutes. */
  static final Set<String> PERMUTED_ARCHITECTURES = Set.of("llama", "deci", "granite", "granitemoe", "minicpm");

  private static final Pattern BLOCK = Pattern.compile("^blk\\.(\\d{1,6})\\.([a-z0-9_]+)\\.(weight|bias)$");
  private static final Map<String, String> IN_BLOCK = Map.ofEntries(
      Map.entry("attn_norm", "input_layernorm"),
      Map.entry("attn_q", "self_attn.q_proj"),
      Map.entry("attn_k", "self_attn.k_proj"),
      Map.entry("attn_v", "self_attn.v_proj"),
      Map.entry("attn_output", "self_attn.o_proj"),
      Map.entry("attn_q_norm", "self_attn.q_norm"),
      Map.entry("attn_k_norm", "self_attn.k_norm"),
      Map.entry("ffn_norm", "post_attention_layernorm"),
      Map.entry("ffn_gate", "mlp.gate_proj"),
      Map.entry("ffn_up", "mlp.up_proj"),
      Map.entry("ffn_down", "mlp.down_proj"));
  private static final Map<String, String> TOP = Map.of(
      "token_embd.weight", "model.embed_tokens.weight",
      "output_norm.weight", "model.norm.weight",
      "output_norm.bias", "model.norm.bias",
      "output.weight", "lm_head.weight",
      "output.bias", "lm_head.bias");

  private GgufNames() {}

  /** Which of the permuted projections a tensor is. */
  enum Projection { QUERY, KEY }

  /**
   * A GGUF name's Hugging Face name.
   *
   * @param name the Hugging Face name
   * @param layer the block index, or -1
   * @param projection whether it is a q or k projection (weight or bias), else null
   */
  record Mapped(String name, int layer, Projection projection) {}

  /** The Hugging Face name of {@code ggufName}, if the mapping has one. */
  static Optional<Mapped> map(String ggufName) {
    String top = TOP.get(ggufName);
    if (top != null) {
      return Optional.of(new Mapped(top, -1, null));
    }
    Matcher m = BLOCK.matcher(ggufName);
    if (!m.matches()) {
      return Optional.empty();
    }
    String hf = IN_BLOCK.get(m.group(2));
    if (hf == null) {
      return Optional.empty();
    }
    int layer = Integer.parseInt(m.group(1));
    Projection p = m.group(2).equals("attn_q") ? Projection.QUERY : m.group(2).equals("attn_k") ? Projection.KEY : null;
    return Optional.of(new Mapped("model.layers." + layer + "." + hf + "." + m.group(3), layer, p));
  }

  /**
   * The GGUF row holding Hugging Face row {@code row} of a permuted projection of {@code heads}
   * heads and {@code rows} rows ({@code rows} a multiple of {@code 2 heads}).
   */
  static long storageRow(long row, long rows, int heads) {
    long headDim = rows / heads;
    long half = headDim / 2;
    long head = row / headDim;
    long within = row % headDim;
    long s = within / half;
    long i = within % half;
    return head * headDim + 2 * i + s;
  }
}
