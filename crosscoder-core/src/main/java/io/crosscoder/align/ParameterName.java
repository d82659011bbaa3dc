package io.crosscoder.align;

import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A tensor name split into its layer index and parameter kind, for the naming schemes of the
 * common model families:
 *
 * <ul>
 *   <li>{@code model.layers.12.mlp.gate_proj.weight} (Llama, Qwen, Mistral, Gemma): layer 12,
 *       kind {@code mlp.gate_proj.weight};
 *   <li>{@code encoder.layer.3.attention.self.query.weight} (BERT), {@code
 *       transformer.h.5.attn.c_attn.weight} (GPT-2), {@code gpt_neox.layers.0...}, {@code
 *       model.decoder.layers.0...} (OPT), {@code blocks.7...};
 *   <li>anything else (embeddings, final norms, heads): no layer, and the kind is the name with a
 *       leading model-wrapper prefix ({@code model.}, {@code bert.}, {@code transformer.}, ...)
 *       removed, e.g. {@code embed_tokens.weight}.
 * </ul>
 *
 * @param name the full name as stored
 * @param layer the block index, if the name is inside a repeated block
 * @param kind the parameter kind within its block (or the stripped name outside blocks)
 */
public record ParameterName(String name, OptionalInt layer, String kind) {
  // The block container is the segment just before the index: layers / layer / h / blocks / block.
  private static final Pattern LAYER =
      Pattern.compile("(?:^|\\.)(?:layers|layer|h|blocks|block)\\.(\\d{1,6})\\.(.+)$");
  private static final Pattern WRAPPER =
      Pattern.compile("^(?:model\\.|bert\\.|roberta\\.|transformer\\.|gpt_neox\\.|language_model\\.)+");

  /**
   * Parses a tensor name. Never fails: an unrecognised name has no layer.
   *
   * @param name the full name as stored
   * @return the parsed name
   */
  public static ParameterName parse(String name) {
    Matcher m = LAYER.matcher(name);
    if (m.find()) {
      return new ParameterName(name, OptionalInt.of(Integer.parseInt(m.group(1))), m.group(2));
    }
    return new ParameterName(name, OptionalInt.empty(), WRAPPER.matcher(name).replaceFirst(""));
  }

  /**
   * A key under which the same parameter of two checkpoints of one family meets even when one
   * side wraps names in a prefix ({@code bert.encoder.layer.0...} vs {@code encoder.layer.0...}):
   * {@code "3/attention.self.query.weight"} or {@code "-/embeddings.word_embeddings.weight"}.
   *
   * @return the layer (or {@code -}), a slash, and the kind
   */
  public String alignmentKey() {
    return (layer.isPresent() ? Integer.toString(layer.getAsInt()) : "-") + "/" + kind;
  }

  /**
   * {@return whether this looks like an input embedding matrix ({@code embed_tokens}, {@code
   * wte}, {@code word_embeddings}, {@code embed_in}, {@code tok_embeddings})}
   */
  public boolean isInputEmbedding() {
    return layer.isEmpty() && (kind.equals("embed_tokens.weight") || kind.equals("wte.weight")
        || kind.equals("embeddings.word_embeddings.weight") || kind.equals("embed_in.weight")
        || kind.equals("tok_embeddings.weight"));
  }

  /**
   * {@return whether this looks like an output (LM) head ({@code lm_head}, {@code embed_out},
   * {@code output})}
   */
  public boolean isOutputHead() {
    return layer.isEmpty() && (kind.equals("lm_head.weight") || kind.equals("embed_out.weight")
        || kind.equals("output.weight"));
  }
}
