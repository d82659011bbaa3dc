package io.crosscoder.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * A named tensor whose bytes live off the heap, usually in a memory-mapped checkpoint file.
 *
 * <p>{@link #shape()} is the logical shape in the Hugging Face layout ({@code [out, in]} for a
 * linear weight). {@link #data()} holds the elements in storage order, little-endian. The two
 * orders differ only where {@link #transposed()} says so: a rank-2 tensor stored as its
 * transpose, as ONNX stores MatMul weights ({@code [in, out]}); or in views that are not {@link
 * #isPlainFloat()} and override {@link #readFloats}, such as GGUF tensors, whose data may be
 * block-quantized ({@link #storageType()} names the block format, {@link #dtype()} is then {@link
 * DType#U8}, the raw bytes) or hold its rows in another order. Code that is not a format reads such
 * views through {@link #readFloats} and {@link #readRow} only.
 *
 * <p>Views are valid while the {@code Checkpoint} that made them is open; they are immutable and
 * safe to read from many threads.
 */
public interface TensorView {
  /** {@return the tensor's name in its checkpoint, in the Hugging Face scheme where the format allows} */
  String name();

  /** {@return the storage element type ({@link DType#U8} for block-quantized views)} */
  DType dtype();

  /** {@return the logical shape, a fresh copy the caller may change} */
  long[] shape();

  /**
   * The stored bytes, little-endian: {@code elementCount() * dtype().byteSize()} long, except for
   * block-quantized views ({@link #storageType()} other than the dtype's name), whose data is the
   * blocks as stored.
   *
   * @return the stored bytes, which callers only read; valid while the checkpoint is open (the
   *     view owns nothing; the checkpoint unmaps it on close)
   */
  MemorySegment data();

  /** {@return the file this tensor was read from, for messages; null for tensors made in memory} */
  Path source();

  /**
   * {@return where {@link #data()} lies, byte for byte, in {@link #source()}, for views whose data
   * is a plain slice of a mapped file; empty for every other view (the default)}
   */
  default Optional<FileRegion> fileRegion() {
    return Optional.empty();
  }

  /** {@return whether a rank-2 tensor is stored as the transpose of its logical shape} */
  default boolean transposed() {
    return false;
  }

  /**
   * {@return how stored integers map to real values, for tensors under affine (per-tensor or
   * per-channel) quantization; empty for every other tensor}
   */
  default Optional<Quantization> quantization() {
    return Optional.empty();
  }

  /**
   * {@return the stored encoding as a name for reports: the {@link #dtype()}'s name ({@code
   * "BF16"}), or a block quantization format ({@code "Q4_K"}, {@code "Q8_0"}) for views that read
   * blocks}
   */
  default String storageType() {
    return dtype().name();
  }

  /**
   * {@return whether stored values are quantized and read dequantized: an affine {@link
   * #quantization()}, or a block format named by {@link #storageType()}}
   */
  default boolean isQuantized() {
    return quantization().isPresent();
  }

  /**
   * {@return the number of elements: the product of the shape (1 for a scalar)}
   *
   * @throws ArithmeticException if the product overflows a {@code long}
   */
  default long elementCount() {
    long n = 1;
    for (long d : shape()) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  /** {@return the logical rows: {@code shape[0]} for rank 2 and more, 1 for scalars and vectors} */
  default long rows() {
    long[] s = shape();
    return s.length >= 2 ? s[0] : 1;
  }

  /** {@return the logical row length: {@code elementCount() / rows()}, 0 when there are no rows} */
  default long columns() {
    long r = rows();
    return r == 0 ? 0 : elementCount() / r;
  }

  /**
   * {@return whether backends may read {@link #data()} directly as f32, f16 or bf16 values in
   * logical order: a plain float type, not quantized, not transposed}
   */
  default boolean isPlainFloat() {
    DType t = dtype();
    return (t == DType.F32 || t == DType.F16 || t == DType.BF16)
        && !isQuantized()
        && !transposed();
  }

  /**
   * Reads {@code length} elements starting at element {@code index}, as f32 real values (integers
   * converted, quantized values dequantized), in logical row-major order, or in storage order for a
   * {@link #transposed()} view.
   *
   * @param index the first element, counted in elements from the start of the tensor
   * @param dst the caller's array that receives the values
   * @param offset where in {@code dst} the first value goes
   * @param length how many elements to read
   * @throws IndexOutOfBoundsException if the range lies outside the tensor or {@code dst}
   * @throws io.crosscoder.InvalidInputException if the mapped file changed while being read
   */
  default void readFloats(long index, float[] dst, int offset, int length) {
    try {
      Elements.decode(dtype(), data(), index, dst, offset, length);
    } catch (InternalError e) {
      // A mapped file truncated by another process faults here; see MappedReads.
      throw MappedReads.rethrow(source(), name(), e);
    }
  }

  /**
   * Reads {@code length} elements of logical row {@code row}, starting at column {@code column},
   * as f32 real values, whatever the storage order.
   *
   * @param row the logical row, in {@code [0, rows())}
   * @param column the first logical column, in {@code [0, columns())}
   * @param dst the caller's array that receives the values
   * @param offset where in {@code dst} the first value goes
   * @param length how many elements to read; {@code column + length <= columns()}
   * @throws IndexOutOfBoundsException if the range lies outside the tensor or {@code dst}
   * @throws io.crosscoder.InvalidInputException if the mapped file changed while being read
   */
  default void readRow(long row, long column, float[] dst, int offset, int length) {
    if (!transposed()) {
      readFloats(row * columns() + column, dst, offset, length);
      return;
    }
    long storageRowLength = rows();
    float[] one = new float[1];
    for (int j = 0; j < length; j++) {
      readFloats((column + j) * storageRowLength + row, one, 0, 1);
      dst[offset + j] = one[0];
    }
  }

  /**
   * A plain view (not transposed, not quantized) over {@code data}, which must hold exactly the
   * elements of {@code shape}.
   *
   * @param name the tensor's name
   * @param dtype the element type of {@code data}
   * @param shape the logical shape; copied
   * @param data the elements, little-endian, row-major; the caller keeps it alive while the view
   *     is used
   * @param source the file the data came from, for messages; null for tensors made in memory
   * @return the view
   */
  static TensorView of(String name, DType dtype, long[] shape, MemorySegment data, Path source) {
    return new PlainTensorView(name, dtype, shape, data, source, null);
  }

  /**
   * As {@link #of(String, DType, long[], MemorySegment, Path)}, for data that is a slice of a
   * mapped file, stored there byte for byte at {@code region}.
   *
   * @param name the tensor's name
   * @param dtype the element type of {@code data}
   * @param shape the logical shape; copied
   * @param data the elements, little-endian, row-major, mapped from {@code region}
   * @param region where the same bytes lie in the file ({@link #fileRegion()}); null for none
   * @return the view, whose {@link #source()} is the region's file
   */
  static TensorView mapped(String name, DType dtype, long[] shape, MemorySegment data, FileRegion region) {
    return new PlainTensorView(name, dtype, shape, data, region == null ? null : region.file(), region);
  }

  /**
   * Formats a shape for messages.
   *
   * @param shape the dimensions
   * @return the shape as {@code [a, b, c]}
   */
  static String formatShape(long[] shape) {
    return Arrays.toString(shape);
  }

  /** Little-endian layouts for reading {@link #data()} without alignment requirements. */
  final class Layouts {
    /** A 32-bit float (F32), little-endian, any alignment. */
    public static final ValueLayout.OfFloat F32 =
        ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** A 16-bit word (I16, U16, and the bits of F16 and BF16), little-endian, any alignment. */
    public static final ValueLayout.OfShort I16 =
        ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** A 32-bit integer (I32, U32), little-endian, any alignment. */
    public static final ValueLayout.OfInt I32 =
        ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** A 64-bit integer (I64, U64), little-endian, any alignment. */
    public static final ValueLayout.OfLong I64 =
        ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** A 64-bit float (F64), little-endian, any alignment. */
    public static final ValueLayout.OfDouble F64 =
        ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Layouts() {}
  }
}
