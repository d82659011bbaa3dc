package io.crosscoder.tensor;

import java.util.Locale;
import java.util.Optional;

/**
 * Element types of stored tensors, named as in the safetensors format. Every type can be read
 * as f32 ({@link TensorView#readFloats}); integer types are read as their numeric value, BOOL as
 * 0 or 1.
 */
public enum DType {
  /** IEEE binary64. */
  F64(8, true),
  /** IEEE binary32. */
  F32(4, true),
  /** IEEE binary16: 5 exponent bits, 10 mantissa bits. */
  F16(2, true),
  /** bfloat16: the upper 16 bits of an f32 (8 exponent bits, 7 mantissa bits). */
  BF16(2, true),
  /** 8-bit float, 4 exponent bits, 3 mantissa bits, no infinities (the "fn" variant). */
  F8_E4M3(1, true),
  /** 8-bit float, 5 exponent bits, 2 mantissa bits (IEEE-like, with infinities). */
  F8_E5M2(1, true),
  /** Signed 64-bit integer, two's complement. */
  I64(8, false),
  /** Signed 32-bit integer. */
  I32(4, false),
  /** Signed 16-bit integer. */
  I16(2, false),
  /** Signed 8-bit integer. */
  I8(1, false),
  /** Unsigned 64-bit integer. */
  U64(8, false),
  /** Unsigned 32-bit integer. */
  U32(4, false),
  /** Unsigned 16-bit integer. */
  U16(2, false),
  /** Unsigned 8-bit integer; also the raw bytes of block-quantized tensors. */
  U8(1, false),
  /** One byte per element, 0 for false and anything else for true. */
  BOOL(1, false);

  private final int byteSize;
  private final boolean floating;

  DType(int byteSize, boolean floating) {
    this.byteSize = byteSize;
    this.floating = floating;
  }

  /** {@return the bytes per element: 1, 2, 4 or 8} */
  public int byteSize() {
    return byteSize;
  }

  /** {@return whether this is a floating-point type} */
  public boolean isFloating() {
    return floating;
  }

  /**
   * Looks a type up by its safetensors name.
   *
   * @param name the name, in any case ({@code "BF16"}, {@code "f8_e4m3"}, ...)
   * @return the type, or empty if no type has that name
   */
  public static Optional<DType> fromName(String name) {
    try {
      return Optional.of(valueOf(name.toUpperCase(Locale.ROOT)));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }
}
