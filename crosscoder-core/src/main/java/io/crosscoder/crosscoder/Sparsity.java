package io.crosscoder.crosscoder;

/**
 * How a crosscoder's latents are kept sparse (METHOD.md section 2): the objective a training run
 * optimises and the rule a trained crosscoder encodes with, one concept for both.
 *
 * <ul>
 *   <li>{@link L1}: Anthropic's penalty {@code lambda * sum_i f_i * (|d_i^A| + |d_i^B|)}; inference
 *       is the plain ReLU code.
 *   <li>{@link BatchTopK}: Minder et al.; training keeps the {@code k * B} largest scores
 *       {@code f_i * (|d_i^A| + |d_i^B|)} over a batch of B tokens; inference keeps a latent when
 *       its score exceeds the global {@code threshold} learned during training.
 * </ul>
 */
public sealed interface Sparsity permits Sparsity.L1, Sparsity.BatchTopK {

  /**
   * The L1 penalty with weight {@code lambda >= 0} (finite).
   *
   * @param lambda the penalty's weight
   */
  record L1(double lambda) implements Sparsity {
    /** Checks {@code lambda} is finite and not negative. */
    public L1 {
      if (!(lambda >= 0) || Double.isInfinite(lambda)) {
        throw new IllegalArgumentException("L1 lambda must be finite and >= 0, got " + lambda);
      }
    }
  }

  /**
   * BatchTopK with {@code k >= 1} active latents per token on average, and the inference
   * {@code threshold >= 0} on the score {@code f_i * (|d_i^A| + |d_i^B|)} (0 before training has
   * estimated it: every positive latent is then kept).
   *
   * @param k active latents per token on average
   * @param threshold the inference threshold on the score, 0 before training
   */
  record BatchTopK(int k, double threshold) implements Sparsity {
    /** Checks {@code k >= 1} and a finite, non-negative threshold. */
    public BatchTopK {
      if (k < 1) {
        throw new IllegalArgumentException("BatchTopK k must be >= 1, got " + k);
      }
      if (!(threshold >= 0) || Double.isInfinite(threshold)) {
        throw new IllegalArgumentException("BatchTopK threshold must be finite and >= 0, got " + threshold);
      }
    }
  }

  /**
   * {@return an L1 penalty of weight {@code lambda}}
   *
   * @param lambda the penalty's weight, finite and at least 0
   */
  static Sparsity l1(double lambda) {
    return new L1(lambda);
  }

  /**
   * BatchTopK with {@code k} and the inference {@code threshold}.
   *
   * @param k active latents per token on average, at least 1
   * @param threshold the inference threshold, finite and at least 0
   * @return the sparsity
   */
  static Sparsity batchTopK(int k, double threshold) {
    return new BatchTopK(k, threshold);
  }

  /**
   * BatchTopK with {@code k} and no threshold yet (0): what a training run is given, and learns the threshold of.
   *
   * @param k active latents per token on average, at least 1
   * @return the sparsity
   */
  static Sparsity batchTopK(int k) {
    return new BatchTopK(k, 0);
  }
}
