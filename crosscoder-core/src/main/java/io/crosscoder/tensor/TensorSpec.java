package io.crosscoder.tensor;

import java.util.Objects;

/**
 * A tensor's name, element type and shape, without data: what a writer needs to lay a file out
 * before the data exists.
 *
 * @param name the tensor's name
 * @param dtype the element type
 * @param shape the dimensions, each non-negative; copied in and out
 */
public record TensorSpec(String name, DType dtype, long[] shape) {
  /**
   * Checks the components and copies the shape.
   *
   * @throws NullPointerException if {@code name} or {@code dtype} is null
   * @throws IllegalArgumentException if a dimension is negative
   */
  public TensorSpec {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(dtype, "dtype");
    shape = shape.clone();
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException(name + ": negative dimension in shape " + TensorView.formatShape(shape));
      }
    }
  }

  /** {@return the dimensions, a fresh copy} */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /**
   * {@return the number of elements: the product of the shape}
   *
   * @throws ArithmeticException if it overflows a {@code long}
   */
  public long elementCount() {
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  /**
   * {@return the bytes of data: elements times the dtype's size}
   *
   * @throws ArithmeticException if it overflows a {@code long}
   */
  public long byteSize() {
    return Math.multiplyExact(elementCount(), (long) dtype.byteSize());
  }
}
