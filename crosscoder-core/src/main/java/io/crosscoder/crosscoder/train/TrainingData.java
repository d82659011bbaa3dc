package io.crosscoder.crosscoder.train;

import io.crosscoder.crosscoder.ActivationBatch;

/**
 * A stream of paired activations for {@link CrosscoderTrainer}: for each token, the base model's
 * activation {@code x_A} and the target model's {@code x_B} at the same site, both in {@code R^d}
 * and already normalised (METHOD.md section 2).
 *
 * <p><b>Reproducibility.</b> A trainer resumed from a checkpoint gets a fresh instance of the same
 * data and calls {@link #skip} with the number of batches the interrupted run had consumed; from
 * then on {@link #next} must return what the interrupted instance would have returned. So an
 * implementation must be a deterministic function of its construction arguments (a seed, a file
 * list) and the number of batches taken. The default {@link #skip} draws and drops batches;
 * implementations that can seek override it.
 *
 * <p>Instances are used by one thread at a time.
 */
public interface TrainingData {

  /**
   * The activation width {@code d} of each model.
   *
   * @return the width {@code d} of one model's activations, at least 1
   */
  int d();

  /**
   * The next {@code batchSize} tokens: a batch of exactly {@code batchSize} rows of width {@link
   * #d()}, whose arrays the trainer only reads.
   *
   * @param batchSize the number of tokens, at least 1
   * @return the next batch of {@code batchSize} rows of width {@code d}
   * @throws IllegalArgumentException if {@code batchSize < 1}
   * @throws io.crosscoder.CrosscoderException if the data cannot be read or is exhausted
   */
  ActivationBatch next(int batchSize);

  /**
   * Moves past {@code batches} batches of {@code batchSize} tokens, as if {@link #next} had been
   * called that many times. The default calls {@link #next} and drops the results.
   *
   * @param batches the number of batches to pass over, at least 0
   * @param batchSize the tokens per batch, the same as the run's {@link #next} calls use
   */
  default void skip(long batches, int batchSize) {
    for (long i = 0; i < batches; i++) {
      next(batchSize);
    }
  }
}
