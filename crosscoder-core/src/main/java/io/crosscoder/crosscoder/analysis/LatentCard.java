package io.crosscoder.crosscoder.analysis;

import java.util.List;
import java.util.Objects;

/**
 * One latent as a reader meets it: where it lives (class, relative decoder norm, decoder cosine),
 * how much it works (firings, total activation), the tokens it fires on most, and its top
 * activating contexts.
 *
 * @param latent the latent's index
 * @param latentClass its class
 * @param relativeNorm {@code r = |d^B| / (|d^A| + |d^B|)}
 * @param decoderCosine {@code cos(d^A, d^B)} (NaN when a decoder is zero)
 * @param firings rows on which it fired, of {@code rows}
 * @param rows rows it was evaluated on
 * @param activationSum the sum of its activations over those rows
 * @param topTokens the tokens it fired on most, most frequent first
 * @param contexts its highest activations, highest first
 */
public record LatentCard(int latent, LatentClass latentClass, double relativeNorm, double decoderCosine, long firings,
    long rows, double activationSum, List<TokenShare> topTokens, List<Context> contexts) {

  /** Copies the lists. */
  public LatentCard {
    Objects.requireNonNull(latentClass, "latentClass");
    topTokens = List.copyOf(topTokens);
    contexts = List.copyOf(contexts);
  }

  /**
   * A token and how often the latent fired on it.
   *
   * @param token the token's text, as the tokenizer decodes it alone
   * @param count the rows on which the latent fired with this token
   */
  public record TokenShare(String token, long count) {}

  /**
   * One activating context: the text before the token, the token, the text after, as the base
   * model's tokenizer decodes them.
   *
   * @param activation the latent's activation on the token
   * @param document the corpus document it is from
   * @param before text before the token
   * @param token the token's text
   * @param after text after the token
   */
  public record Context(float activation, long document, String before, String token, String after) {}
}
