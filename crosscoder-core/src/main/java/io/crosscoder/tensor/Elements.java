package io.crosscoder.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Scalar decoding of stored elements of every {@link DType} to f32. */
public final class Elements {
  private Elements() {}

  /**
   * Decodes {@code length} elements starting at element {@code index} of {@code data} into
   * {@code dst[offset..]}. Unsigned 64-bit values above 2^63 are read as their unsigned value.
   *
   * @param dtype the element type of {@code data}
   * @param data the stored elements, little-endian, any alignment
   * @param index the first element, counted in elements (not bytes)
   * @param dst the caller's array that receives the values
   * @param offset where in {@code dst} the first value goes
   * @param length how many elements to decode
   * @throws IndexOutOfBoundsException if the range lies outside {@code data} or {@code dst}
   */
  public static void decode(DType dtype, MemorySegment data, long index, float[] dst, int offset, int length) {
    int size = dtype.byteSize();
    long base = index * size;
    for (int i = 0; i < length; i++) {
      long at = base + (long) i * size;
      dst[offset + i] = switch (dtype) {
        case F64 -> (float) data.get(TensorView.Layouts.F64, at);
        case F32 -> data.get(TensorView.Layouts.F32, at);
        case F16 -> Float.float16ToFloat(data.get(TensorView.Layouts.I16, at));
        case BF16 -> FloatFormats.bf16ToFloat(data.get(TensorView.Layouts.I16, at));
        case F8_E4M3 -> FloatFormats.f8e4m3ToFloat(data.get(ValueLayout.JAVA_BYTE, at));
        case F8_E5M2 -> FloatFormats.f8e5m2ToFloat(data.get(ValueLayout.JAVA_BYTE, at));
        case I64 -> (float) data.get(TensorView.Layouts.I64, at);
        case I32 -> (float) data.get(TensorView.Layouts.I32, at);
        case I16 -> (float) data.get(TensorView.Layouts.I16, at);
        case I8 -> (float) data.get(ValueLayout.JAVA_BYTE, at);
        case U64 -> unsignedLongToFloat(data.get(TensorView.Layouts.I64, at));
        case U32 -> (float) (data.get(TensorView.Layouts.I32, at) & 0xffffffffL);
        case U16 -> (float) (data.get(TensorView.Layouts.I16, at) & 0xffff);
        case U8 -> (float) (data.get(ValueLayout.JAVA_BYTE, at) & 0xff);
        case BOOL -> data.get(ValueLayout.JAVA_BYTE, at) != 0 ? 1f : 0f;
      };
    }
  }

  private static float unsignedLongToFloat(long v) {
    return v >= 0 ? (float) v : (float) ((v >>> 1) | (v & 1)) * 2f;
  }
}
