package io.crosscoder.io.gguf;

import io.crosscoder.tensor.DType;
import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The element types of ggml tensors, with the ids GGUF files store ({@code enum ggml_type} of
 * ggml). Plain types hold one value per element; block types hold {@link #blockSize()} values in
 * {@link #blockBytes()} bytes. The types this library dequantizes are {@linkplain #supported()
 * supported}; the others are known by name, so that a file holding them is refused with a message
 * that names the type.
 */
public enum GgmlType {
  /** IEEE binary32, one value per element. */
  F32(0, 1, 4, true),
  /** IEEE binary16, one value per element. */
  F16(1, 1, 2, true),
  /** 32 values: an f16 scale {@code d} and 4-bit {@code q}; {@code x = (q - 8) d}. */
  Q4_0(2, 32, 18, true),
  /** 32 values: f16 {@code d} and {@code m}, 4-bit {@code q}; {@code x = q d + m}. */
  Q4_1(3, 32, 20, true),
  /** 32 values: f16 {@code d}, the fifth bits in 4 bytes, 4-bit low parts; {@code x = (q - 16) d}. */
  Q5_0(6, 32, 22, true),
  /** 32 values: f16 {@code d} and {@code m}, fifth bits, low parts; {@code x = q d + m}. */
  Q5_1(7, 32, 24, true),
  /** 32 values: f16 {@code d} and 8-bit signed {@code q}; {@code x = q d}. */
  Q8_0(8, 32, 34, true),
  /** 32 values: f16 {@code d} and the block sum {@code s}, 8-bit signed {@code q} (9 bits per value); not read. */
  Q8_1(9, 32, 36, false),
  /** 256 values at 2.625 bits each: 2-bit {@code q} under 4-bit sub-block scales and mins; not read. */
  Q2_K(10, 256, 84, false),
  /** 256 values at 3.4375 bits each: 3-bit {@code q} under 6-bit sub-block scales; not read. */
  Q3_K(11, 256, 110, false),
  /** 256 values in 8 sub-blocks of 32, 6-bit scales and mins under f16 super-scales, 4-bit {@code q}. */
  Q4_K(12, 256, 144, true),
  /** As {@link #Q4_K} with a fifth bit per value. */
  Q5_K(13, 256, 176, true),
  /** 256 values in 16 sub-blocks of 16, 8-bit signed scales under an f16 super-scale, 6-bit {@code q}. */
  Q6_K(14, 256, 210, true),
  /**
   * 256 values: an f32 scale, 8-bit {@code q} and 16-bit partial sums (ggml's intermediate for dot
   * products); not read.
   */
  Q8_K(15, 256, 292, false),
  /** Importance-matrix quantization at 2.0625 bits per value; not read. */
  IQ2_XXS(16, 256, 66, false),
  /** Importance-matrix quantization at 2.3125 bits per value; not read. */
  IQ2_XS(17, 256, 74, false),
  /** Importance-matrix quantization at 3.0625 bits per value; not read. */
  IQ3_XXS(18, 256, 98, false),
  /** Importance-matrix quantization at 1.5625 bits per value; not read. */
  IQ1_S(19, 256, 50, false),
  /** 32 values: f16 scale and 4-bit indices into a non-linear table (4.5 bits per value); not read. */
  IQ4_NL(20, 32, 18, false),
  /** Importance-matrix quantization at 3.4375 bits per value; not read. */
  IQ3_S(21, 256, 110, false),
  /** Importance-matrix quantization at 2.5625 bits per value; not read. */
  IQ2_S(22, 256, 82, false),
  /** 256 values of 4-bit indices into a non-linear table under sub-block scales (4.25 bits per value); not read. */
  IQ4_XS(23, 256, 136, false),
  /** Signed 8-bit integer, one value per element. */
  I8(24, 1, 1, true),
  /** Signed 16-bit integer, one value per element. */
  I16(25, 1, 2, true),
  /** Signed 32-bit integer, one value per element. */
  I32(26, 1, 4, true),
  /** Signed 64-bit integer, one value per element. */
  I64(27, 1, 8, true),
  /** IEEE binary64, one value per element. */
  F64(28, 1, 8, true),
  /** Importance-matrix quantization at 1.75 bits per value; not read. */
  IQ1_M(29, 256, 56, false),
  /** bfloat16, one value per element. */
  BF16(30, 1, 2, true),
  /** Ternary ({@code -1, 0, 1}) values at 1.6875 bits each; not read. */
  TQ1_0(34, 256, 54, false),
  /** Ternary ({@code -1, 0, 1}) values at 2.0625 bits each; not read. */
  TQ2_0(35, 256, 66, false),
  /** 32 values: 4-bit E2M1 floats under a shared power-of-two (E8M0) scale (4.25 bits per value); not read. */
  MXFP4(39, 32, 17, false);

  private final int id;
  private final int blockSize;
  private final int blockBytes;
  private final boolean supported;

  GgmlType(int id, int blockSize, int blockBytes, boolean supported) {
    this.id = id;
    this.blockSize = blockSize;
    this.blockBytes = blockBytes;
    this.supported = supported;
  }

  /** {@return the id stored in GGUF tensor infos} */
  public int id() {
    return id;
  }

  /** {@return the values per block (1 for plain types)} */
  public int blockSize() {
    return blockSize;
  }

  /** {@return the bytes per block (the element size for plain types)} */
  public int blockBytes() {
    return blockBytes;
  }

  /** {@return whether this library reads the type (plain types and the block types it dequantizes)} */
  public boolean supported() {
    return supported;
  }

  /** {@return whether values come in blocks with shared scales (everything but the plain types)} */
  public boolean blockQuantized() {
    return blockSize > 1;
  }

  /** {@return the {@link DType} of a plain type; for a block type {@link DType#U8} (the raw bytes)} */
  public DType dtype() {
    return switch (this) {
      case F32 -> DType.F32;
      case F16 -> DType.F16;
      case BF16 -> DType.BF16;
      case F64 -> DType.F64;
      case I8 -> DType.I8;
      case I16 -> DType.I16;
      case I32 -> DType.I32;
      case I64 -> DType.I64;
      default -> DType.U8;
    };
  }

  /**
   * Looks a type up by the id a file stores.
   *
   * @param id the id as read (a {@code long}, so that a hostile value is looked up, not narrowed)
   * @return the type, or empty if ggml defines none with this id
   */
  public static Optional<GgmlType> ofId(long id) {
    for (GgmlType t : values()) {
      if (t.id == id) {
        return Optional.of(t);
      }
    }
    return Optional.empty();
  }

  /** {@return the supported types' names, for messages: {@code "F32, F16, Q4_0, ..."}} */
  public static String supportedNames() {
    return Arrays.stream(values()).filter(GgmlType::supported).map(Enum::name).collect(Collectors.joining(", "));
  }
}
