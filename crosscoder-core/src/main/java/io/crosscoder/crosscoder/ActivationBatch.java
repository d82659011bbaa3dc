package io.crosscoder.crosscoder;

import java.util.Objects;

/**
 * Paired activations of the two models for the same {@code rows} tokens: {@code base} and
 * {@code target} are row-major {@code rows x d} f32 arrays (row r of base and row r of target are
 * the same token). The arrays are owned by the batch; callers must not modify them. The one batch
 * type of the library: an {@link ActivationSource} yields it, and {@code
 * io.crosscoder.crosscoder.train.TrainingData} hands it to the trainer (there normalised, and of
 * exactly the asked number of rows).
 *
 * @param rows tokens in the batch, {@code >= 0}
 * @param d activation width, {@code >= 1}
 * @param base model A's activations, length at least {@code rows * d}
 * @param target model B's activations, length at least {@code rows * d}
 */
public record ActivationBatch(int rows, int d, float[] base, float[] target) {
  /** Checks the sizes. */
  public ActivationBatch {
    Objects.requireNonNull(base, "base");
    Objects.requireNonNull(target, "target");
    if (rows < 0 || d < 1) {
      throw new IllegalArgumentException("rows must be >= 0 and d >= 1, got " + rows + ", " + d);
    }
    if ((long) rows * d > base.length || (long) rows * d > target.length) {
      throw new IllegalArgumentException(rows + " x " + d + " batch but arrays of " + base.length + " and "
          + target.length);
    }
  }
}
