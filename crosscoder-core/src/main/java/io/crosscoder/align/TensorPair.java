package io.crosscoder.align;

import io.crosscoder.tensor.TensorView;
import java.util.Objects;

/**
 * A base tensor and the target tensor it is compared with, of equal logical shape.
 *
 * @param name the parsed name (the base's, or the target's where only the target names it)
 * @param base the base tensor
 * @param target the target tensor
 * @param note why this pairing is not a plain same-name match (tied embeddings, rows cut to the
 *     common vocabulary, renamed), or null
 */
public record TensorPair(ParameterName name, TensorView base, TensorView target, String note) {
  /**
   * Checks the components.
   *
   * @throws NullPointerException if {@code name}, {@code base} or {@code target} is null
   */
  public TensorPair {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(base, "base");
    Objects.requireNonNull(target, "target");
  }

  /** {@return the bytes read by one pass over both tensors, as stored} */
  public long bytes() {
    return base.data().byteSize() + target.data().byteSize();
  }
}
