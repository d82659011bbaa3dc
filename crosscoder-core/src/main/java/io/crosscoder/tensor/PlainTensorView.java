package io.crosscoder.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/** A tensor stored as plain elements of one dtype in logical row-major order. */
record PlainTensorView(String name, DType dtype, long[] shape, MemorySegment data, Path source, FileRegion region)
    implements TensorView {
  PlainTensorView {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(dtype, "dtype");
    shape = shape.clone();
    Objects.requireNonNull(data, "data");
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException(name + ": negative dimension in shape " + TensorView.formatShape(shape));
      }
      n = Math.multiplyExact(n, d);
    }
    if (data.byteSize() != Math.multiplyExact(n, (long) dtype.byteSize())) {
      throw new IllegalArgumentException(name + ": shape " + TensorView.formatShape(shape) + " of " + dtype
          + " needs " + n * dtype.byteSize() + " bytes but the data has " + data.byteSize());
    }
  }

  @Override
  public Optional<FileRegion> fileRegion() {
    return Optional.ofNullable(region);
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  @Override
  public String toString() {
    return name + " " + dtype + TensorView.formatShape(shape);
  }
}
