package io.crosscoder.io.activations;

/**
 * How {@link ActivationShards} streams tokens.
 *
 * @param shuffleBufferTokens tokens held in the shuffle buffer ({@code >= 0}); memory is
 *     {@code 2 * shuffleBufferTokens * d * 4} bytes. 0 picks the largest buffer within
 *     {@value #AUTO_BUFFER_BYTES} bytes (at least 1024 tokens).
 * @param outlierNormRatio drop tokens whose activation norm in either model exceeds this multiple
 *     of that model's median norm (BOS-like outliers; METHOD.md section 2); 0 keeps every token.
 *     The medians are estimated from up to {@value #OUTLIER_SAMPLE_TOKENS} tokens taken from the
 *     start of each shard in equal shares.
 */
public record ActivationOptions(int shuffleBufferTokens, double outlierNormRatio) {
  /** Memory budget of the automatic shuffle buffer. */
  public static final long AUTO_BUFFER_BYTES = 256L << 20;
  /** Tokens sampled to estimate the median norms. */
  public static final int OUTLIER_SAMPLE_TOKENS = 65536;

  /** Checks the arguments. */
  public ActivationOptions {
    if (shuffleBufferTokens < 0) {
      throw new IllegalArgumentException("shuffle buffer must be >= 0 tokens, got " + shuffleBufferTokens);
    }
    if (!(outlierNormRatio == 0 || outlierNormRatio > 1) || Double.isInfinite(outlierNormRatio)) {
      throw new IllegalArgumentException("outlier norm ratio must be 0 (off) or a finite value > 1, got "
          + outlierNormRatio);
    }
  }

  /** {@return the defaults: an automatic shuffle buffer, no outlier filtering} */
  public static ActivationOptions defaults() {
    return new ActivationOptions(0, 0);
  }

  /**
   * {@return the same options with a shuffle buffer of {@code tokens}}
   *
   * @param tokens rows held for shuffling, at least 0; 0 sizes it automatically
   */
  public ActivationOptions withShuffleBuffer(int tokens) {
    return new ActivationOptions(tokens, outlierNormRatio);
  }

  /**
   * {@return the same options dropping tokens beyond {@code ratio} times the median norm}
   *
   * @param ratio 0 for no filtering, else a finite ratio above 1
   */
  public ActivationOptions withOutlierNormRatio(double ratio) {
    return new ActivationOptions(shuffleBufferTokens, ratio);
  }

  /** The shuffle buffer in tokens for width {@code d}. */
  int bufferTokens(int d) {
    if (shuffleBufferTokens > 0) {
      return shuffleBufferTokens;
    }
    return (int) Math.max(1024, Math.min(Integer.MAX_VALUE / Math.max(2, 2 * d), AUTO_BUFFER_BYTES / (8L * d)));
  }
}
