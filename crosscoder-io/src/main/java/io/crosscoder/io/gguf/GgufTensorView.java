package io.crosscoder.io.gguf;

import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.Elements;
import io.crosscoder.tensor.FileRegion;
import io.crosscoder.tensor.MappedReads;
import io.crosscoder.tensor.TensorView;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * A GGUF tensor under its Hugging Face name and shape (the GGUF dimensions reversed: {@code ne[0]},
 * the row length, last), over its bytes in the mapped file.
 *
 * <p>Plain F32, F16 and BF16 tensors in their stored order are {@linkplain #isPlainFloat() plain}:
 * backends read {@link #data()} directly. Block-quantized tensors ({@link #storageType()} {@code
 * "Q4_K"} etc., {@link #dtype()} {@link DType#U8}, data the raw blocks) and q/k projections whose
 * rows llama.cpp permuted are read through {@link #readFloats}, which dequantizes the blocks
 * ({@link GgmlBlocks}) and maps each Hugging Face row to the GGUF row that holds it ({@link
 * GgufNames#storageRow}); so {@code readFloats} always yields the Hugging Face tensor's values in
 * row-major order. Immutable and thread-safe; valid while its checkpoint is open.
 */
final class GgufTensorView implements TensorView {
  private final String name;
  private final String ggufName;
  private final GgmlType type;
  private final long[] shape;
  private final MemorySegment data;
  private final Path source;
  private final int permutedHeads;
  private final FileRegion region;
  /** Elements per permuted row: the row length of a matrix, 1 for a bias vector. */
  private final long unit;
  private final long units;

  /**
   * @param permutedHeads heads of a q/k projection whose rows are permuted, or 0
   * @param region where {@code data} lies in the file, or null; only plain views report it
   */
  GgufTensorView(String name, String ggufName, GgmlType type, long[] shape, MemorySegment data, Path source,
      int permutedHeads, FileRegion region) {
    this.name = Objects.requireNonNull(name, "name");
    this.ggufName = Objects.requireNonNull(ggufName, "ggufName");
    this.type = Objects.requireNonNull(type, "type");
    this.shape = shape.clone();
    this.data = Objects.requireNonNull(data, "data");
    this.source = source;
    this.permutedHeads = permutedHeads;
    this.region = region;
    this.units = shape.length == 0 ? 1 : shape[0];
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    this.unit = units == 0 ? 0 : n / units;
  }

  @Override
  public String name() {
    return name;
  }

  /** The tensor's name in the GGUF file. */
  String ggufName() {
    return ggufName;
  }

  /** The ggml type it is stored as. */
  GgmlType type() {
    return type;
  }

  /** Heads of the undone q/k row permutation, or 0. */
  int permutedHeads() {
    return permutedHeads;
  }

  @Override
  public DType dtype() {
    return type.dtype();
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  @Override
  public MemorySegment data() {
    return data;
  }

  @Override
  public Path source() {
    return source;
  }

  /** The ggml type's name: {@code "Q4_K"}, {@code "F16"}, ... */
  @Override
  public String storageType() {
    return type.name();
  }

  @Override
  public boolean isQuantized() {
    return type.blockQuantized();
  }

  /** {@return where the data lies in the file, for {@linkplain #isPlainFloat() plain} views; empty for the others} */
  @Override
  public Optional<FileRegion> fileRegion() {
    return isPlainFloat() ? Optional.ofNullable(region) : Optional.empty();
  }

  @Override
  public boolean isPlainFloat() {
    return permutedHeads == 0 && !type.blockQuantized()
        && (type == GgmlType.F32 || type == GgmlType.F16 || type == GgmlType.BF16);
  }

  @Override
  public void readFloats(long index, float[] dst, int offset, int length) {
    try {
      readFloatsUnguarded(index, dst, offset, length);
    } catch (InternalError e) {
      throw MappedReads.rethrow(source(), name, e);
    }
  }

  private void readFloatsUnguarded(long index, float[] dst, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, dst.length);
    if (length == 0) {
      return;
    }
    long total = elementCount();
    if (index < 0 || index > total - length) {
      throw new IndexOutOfBoundsException(name + ": elements [" + index + ", " + (index + length)
          + ") are outside the " + total + " of shape " + TensorView.formatShape(shape));
    }
    if (permutedHeads == 0) {
      readStorage(index, dst, offset, length);
      return;
    }
    while (length > 0) {
      long u = index / unit;
      long within = index % unit;
      int n = (int) Math.min(length, unit - within);
      long stored = GgufNames.storageRow(u, units, permutedHeads) * unit + within;
      readStorage(stored, dst, offset, n);
      index += n;
      offset += n;
      length -= n;
    }
  }

  /** Elements {@code [index, index + length)} in the file's order. */
  private void readStorage(long index, float[] dst, int offset, int length) {
    if (!type.blockQuantized()) {
      Elements.decode(type.dtype(), data, index, dst, offset, length);
      return;
    }
    int bs = type.blockSize();
    int bb = type.blockBytes();
    byte[] raw = new byte[bb];
    float[] block = null;
    long b = index / bs;
    int skip = (int) (index % bs);
    while (length > 0) {
      MemorySegment.copy(data, ValueLayout.JAVA_BYTE, b * bb, raw, 0, bb);
      int n = Math.min(length, bs - skip);
      if (skip == 0 && n == bs) {
        GgmlBlocks.decode(type, raw, 0, dst, offset);
      } else {
        if (block == null) {
          block = new float[bs];
        }
        GgmlBlocks.decode(type, raw, 0, block, 0);
        System.arraycopy(block, skip, dst, offset, n);
      }
      offset += n;
      length -= n;
      skip = 0;
      b++;
    }
  }

  @Override
  public String toString() {
    return name + " " + type + TensorView.formatShape(shape) + " (GGUF " + ggufName
        + (permutedHeads > 0 ? ", q/k rows unpermuted over " + permutedHeads + " heads" : "") + ")";
  }
}
