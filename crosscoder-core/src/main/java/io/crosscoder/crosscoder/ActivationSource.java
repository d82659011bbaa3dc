package io.crosscoder.crosscoder;

import java.util.Iterator;
import java.util.OptionalLong;

/**
 * Paired activations of a base model (A) and a target model (B) at one site, for the same tokens:
 * what a crosscoder trains and is evaluated on. Implementations stream from files with bounded
 * memory (see {@code io.crosscoder.io.activations}).
 *
 * <p>A source is opened once and closed by whoever opened it; batches and iterators are invalid
 * after {@link #close()}. Iterators are not thread-safe; different iterators of one source may be
 * used from different threads.
 */
public interface ActivationSource extends AutoCloseable {
  /**
   * Activation width d.
   *
   * @return the activation width d of each model
   */
  int d();

  /** {@return number of tokens, if known without reading the data (before any outlier filtering)} */
  OptionalLong tokens();

  /**
   * One epoch in batches of {@code batchSize} tokens (the last batch may be smaller), visiting
   * every kept token exactly once in an order fixed by {@code seed}.
   *
   * @param batchSize tokens per batch, at least 1
   * @param seed seed of the order
   * @return the batches, in an order fixed by {@code seed}
   * @throws io.crosscoder.InvalidInputException if the data turn out to be malformed while read
   */
  Iterator<ActivationBatch> batches(int batchSize, long seed);

  /** Releases files and mappings. */
  @Override
  void close();
}
