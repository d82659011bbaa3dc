package io.crosscoder.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * A view of another tensor under a different name; everything else is the original's, read
 * through it (valid while the original is).
 *
 * @param name the new name
 * @param original the tensor renamed
 */
public record RenamedTensorView(String name, TensorView original) implements TensorView {
  /**
   * Checks both components.
   *
   * @throws NullPointerException if either is null
   */
  public RenamedTensorView {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(original, "original");
  }

  @Override
  public DType dtype() {
    return original.dtype();
  }

  @Override
  public long[] shape() {
    return original.shape();
  }

  @Override
  public MemorySegment data() {
    return original.data();
  }

  @Override
  public Path source() {
    return original.source();
  }

  @Override
  public Optional<FileRegion> fileRegion() {
    return original.fileRegion();
  }

  @Override
  public boolean transposed() {
    return original.transposed();
  }

  @Override
  public Optional<Quantization> quantization() {
    return original.quantization();
  }

  @Override
  public String storageType() {
    return original.storageType();
  }

  @Override
  public boolean isQuantized() {
    return original.isQuantized();
  }

  @Override
  public boolean isPlainFloat() {
    return original.isPlainFloat();
  }

  @Override
  public void readFloats(long index, float[] dst, int offset, int length) {
    original.readFloats(index, dst, offset, length);
  }

  @Override
  public void readRow(long row, long column, float[] dst, int offset, int length) {
    original.readRow(row, column, dst, offset, length);
  }
}
