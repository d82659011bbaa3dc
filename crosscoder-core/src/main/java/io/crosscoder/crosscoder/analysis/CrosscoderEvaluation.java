package io.crosscoder.crosscoder.analysis;

import java.util.List;

/**
 * What a crosscoder does on a set of (held-out) activations: explained variance per model
 * {@code 1 - sum|x - x^|^2 / sum|x - mean(x)|^2}, the mean L0 (active latents per token), how
 * many tokens each latent fired on, and latent scaling for the latents asked for. Immutable.
 *
 * @param tokens tokens evaluated
 * @param explainedVarianceA explained variance of model A (NaN for fewer than two tokens)
 * @param explainedVarianceB explained variance of model B
 * @param meanL0 mean number of non-zero latents per token
 * @param firingCounts per latent, tokens on which it was non-zero (copied)
 * @param scales latent scaling, in the order asked for (copied)
 */
public record CrosscoderEvaluation(long tokens, double explainedVarianceA, double explainedVarianceB, double meanL0,
    long[] firingCounts, List<LatentScale> scales) {

  /** Copies the arrays. */
  public CrosscoderEvaluation {
    firingCounts = firingCounts.clone();
    scales = List.copyOf(scales);
  }

  /** {@return per latent, the tokens on which it fired; a fresh copy} */
  @Override
  public long[] firingCounts() {
    return firingCounts.clone();
  }

  /** {@return per latent, the share of tokens on which it fired (NaN with no tokens)} */
  public double[] firingFrequencies() {
    double[] out = new double[firingCounts.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = tokens == 0 ? Double.NaN : (double) firingCounts[i] / tokens;
    }
    return out;
  }

  /** {@return the number of latents that never fired} */
  public int deadLatents() {
    int n = 0;
    for (long c : firingCounts) {
      n += c == 0 ? 1 : 0;
    }
    return n;
  }

  /** {@return {@link #deadLatents()} over the dictionary size, in [0, 1]; NaN for an empty dictionary} */
  public double deadFraction() {
    return firingCounts.length == 0 ? Double.NaN : (double) deadLatents() / firingCounts.length;
  }
}
