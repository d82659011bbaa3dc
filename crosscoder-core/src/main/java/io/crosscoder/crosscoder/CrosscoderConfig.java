package io.crosscoder.crosscoder;

import java.util.Objects;

/**
 * The shape and training choices of a two-model acausal crosscoder.
 *
 * @param d activation width (the same for both models), {@code >= 1}
 * @param dictionarySize F, the number of latents, {@code >= 1}
 * @param sparsity how latents are kept sparse
 * @param sharedLatents S, {@code 0 <= S <= F}: latents {@code 0..S-1} are the designated shared
 *     latents, whose decoder is one vector used for both models ({@code d_i^A == d_i^B})
 * @param normalisation how inputs are scaled before encoding; see {@link Normalisation}
 */
public record CrosscoderConfig(int d, int dictionarySize, Sparsity sparsity, int sharedLatents,
    Normalisation normalisation) {

  /** Checks every argument; the normalisation must be for width {@code d}. */
  public CrosscoderConfig {
    if (d < 1) {
      throw new IllegalArgumentException("d must be >= 1, got " + d);
    }
    if (dictionarySize < 1) {
      throw new IllegalArgumentException("dictionary size must be >= 1, got " + dictionarySize);
    }
    Objects.requireNonNull(sparsity, "sparsity");
    Objects.requireNonNull(normalisation, "normalisation");
    if (sharedLatents < 0 || sharedLatents > dictionarySize) {
      throw new IllegalArgumentException("shared latents must be in [0, " + dictionarySize + "], got " + sharedLatents);
    }
    if (normalisation.d().isPresent() && normalisation.d().getAsInt() != d) {
      throw new IllegalArgumentException("normalisation is for width " + normalisation.d().getAsInt() + ", not " + d);
    }
    // 2 * d * F floats in one Java array
    if ((long) d * dictionarySize * 2 > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("2 * d * F = " + 2L * d * dictionarySize
          + " exceeds what one Java array holds; this in-memory crosscoder is for analysis sizes");
    }
  }

  /**
   * L1 sparsity with {@code lambda}, no shared latents, no normalisation.
   *
   * @param d activation width of each model
   * @param dictionarySize number of latents F
   * @param lambda L1 coefficient, finite and at least 0
   * @return the configuration
   */
  public static CrosscoderConfig l1(int d, int dictionarySize, double lambda) {
    return new CrosscoderConfig(d, dictionarySize, new Sparsity.L1(lambda), 0, Normalisation.none());
  }

  /**
   * {@return the same configuration with another normalisation}
   *
   * @param n the normalisation
   */
  public CrosscoderConfig withNormalisation(Normalisation n) {
    return new CrosscoderConfig(d, dictionarySize, sparsity, sharedLatents, n);
  }

  /**
   * {@return the same configuration with another sparsity}
   *
   * @param s the sparsity
   */
  public CrosscoderConfig withSparsity(Sparsity s) {
    return new CrosscoderConfig(d, dictionarySize, s, sharedLatents, normalisation);
  }

  /**
   * {@return the same configuration with {@code s} designated shared latents}
   *
   * @param s number of designated shared latents, in [0, F]
   */
  public CrosscoderConfig withSharedLatents(int s) {
    return new CrosscoderConfig(d, dictionarySize, sparsity, s, normalisation);
  }
}
