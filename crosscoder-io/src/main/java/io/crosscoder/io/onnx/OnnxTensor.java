package io.crosscoder.io.onnx;

import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.MappedReads;
import io.crosscoder.tensor.Quantization;
import io.crosscoder.tensor.TensorView;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * An initializer of an ONNX model as a {@link TensorView}, under its Hugging Face name (see
 * {@link OnnxFormat} for the naming rule), with the name it has in the file.
 *
 * <p>{@link #shape()} is the logical (Hugging Face) shape; {@link #storageShape()} the ONNX
 * {@code dims}. They differ, and {@link #transposed()} is true, for matrix-product weights
 * stored {@code [in, out]}: the logical shape is {@code [out, in]}.
 *
 * <p>A quantized weight keeps its integer bytes in {@link #data()} (dtype {@code I8}, {@code U8},
 * ...), says how they map to real values in {@link #quantization()}, and
 * {@link #readFloats}/{@link #readRow} return dequantized values
 * {@code (q - zeroPoint[c]) * scale[c]}, computed in f32 as ONNX Runtime does, where {@code c}
 * is the element's index along the quantization axis (storage order).
 *
 * <p>Immutable and safe to read from many threads while its checkpoint is open.
 */
public final class OnnxTensor implements TensorView {
  private final String name;
  private final String onnxName;
  private final DType dtype;
  private final long[] storageShape;
  private final MemorySegment data;
  private final Path source;
  private final boolean transposed;
  private final Quantization quantization;
  // Dequantization tables, copied once out of the Quantization record (whose getters clone).
  private final float[] scales;
  private final int[] zeroPoints;
  private final long channelStride;

  OnnxTensor(String name, String onnxName, DType dtype, long[] storageShape, MemorySegment data, Path source,
      boolean transposed, Quantization quantization) {
    this.name = Objects.requireNonNull(name, "name");
    this.onnxName = Objects.requireNonNull(onnxName, "onnxName");
    this.dtype = Objects.requireNonNull(dtype, "dtype");
    this.storageShape = storageShape.clone();
    this.data = Objects.requireNonNull(data, "data");
    this.source = source;
    if (transposed && storageShape.length != 2) {
      throw new IllegalArgumentException(name + ": only rank-2 tensors can be stored transposed");
    }
    this.transposed = transposed;
    this.quantization = quantization;
    if (quantization != null) {
      scales = quantization.scales();
      zeroPoints = quantization.zeroPoints();
      long stride = 1;
      if (!quantization.perTensor()) {
        for (int d = quantization.axis() + 1; d < storageShape.length; d++) {
          stride *= storageShape[d];
        }
      }
      channelStride = stride;
    } else {
      scales = null;
      zeroPoints = null;
      channelStride = 1;
    }
  }

  @Override
  public String name() {
    return name;
  }

  /** {@return the initializer's name in the ONNX file ({@code onnx::MatMul_1525}, {@code x_quantized})} */
  public String onnxName() {
    return onnxName;
  }

  @Override
  public DType dtype() {
    return dtype;
  }

  @Override
  public long[] shape() {
    return transposed ? new long[] {storageShape[1], storageShape[0]} : storageShape.clone();
  }

  /** {@return the ONNX {@code dims}: the shape in storage order; a fresh copy} */
  public long[] storageShape() {
    return storageShape.clone();
  }

  @Override
  public MemorySegment data() {
    return data;
  }

  @Override
  public Path source() {
    return source;
  }

  @Override
  public boolean transposed() {
    return transposed;
  }

  @Override
  public Optional<Quantization> quantization() {
    return Optional.ofNullable(quantization);
  }

  @Override
  public void readFloats(long index, float[] dst, int offset, int length) {
    if (quantization == null) {
      TensorView.super.readFloats(index, dst, offset, length);
      return;
    }
    Objects.checkFromIndexSize(offset, length, dst.length);
    Objects.checkFromIndexSize(index, length, elementCount());
    try {
      dequantize(index, dst, offset, length);
    } catch (InternalError e) {
      throw MappedReads.rethrow(source(), name(), e);
    }
  }

  private void dequantize(long index, float[] dst, int offset, int length) {
    int channels = scales.length;
    for (int i = 0; i < length; i++) {
      long at = index + i;
      int c = channels == 1 ? 0 : (int) ((at / channelStride) % channels);
      // As DequantizeLinear: the integer difference is exact, then one f32 multiply.
      dst[offset + i] = (float) (integerAt(at) - zeroPoints[c]) * scales[c];
    }
  }

  @Override
  public void readRow(long row, long column, float[] dst, int offset, int length) {
    if (!transposed) {
      TensorView.super.readRow(row, column, dst, offset, length);
      return;
    }
    Objects.checkFromIndexSize(offset, length, dst.length);
    long rows = storageShape[1];
    long columns = storageShape[0];
    Objects.checkIndex(row, rows);
    Objects.checkFromIndexSize(column, length, columns);
    if (quantization == null && dtype == DType.F32) {
      for (int j = 0; j < length; j++) {
        dst[offset + j] = data.get(Layouts.F32, ((column + j) * rows + row) * 4);
      }
      return;
    }
    for (int j = 0; j < length; j++) {
      readFloats((column + j) * rows + row, dst, offset + j, 1);
    }
  }

  private long integerAt(long index) {
    return integer(data, dtype, index);
  }

  /** Element {@code index} of a quantizable integer tensor's bytes, exactly. */
  static long integer(MemorySegment data, DType dtype, long index) {
    return switch (dtype) {
      case I8 -> data.get(ValueLayout.JAVA_BYTE, index);
      case U8 -> data.get(ValueLayout.JAVA_BYTE, index) & 0xff;
      case I16 -> data.get(Layouts.I16, index * 2);
      case U16 -> data.get(Layouts.I16, index * 2) & 0xffff;
      case I32 -> data.get(Layouts.I32, index * 4);
      default -> throw new IllegalStateException(dtype + " is not a quantized integer type");
    };
  }

  @Override
  public String toString() {
    return name + " " + dtype + TensorView.formatShape(shape()) + (transposed ? " (stored transposed)" : "")
        + (quantization != null ? " (quantized)" : "") + (onnxName.equals(name) ? "" : " [" + onnxName + "]");
  }
}
