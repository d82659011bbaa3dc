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
  F32(0, 1, 4, true),
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
  Q8_1(9, 32, 36, false),
  Q2_K(10, 256, 84, false),
  Q3_K(11, 256, 110, false),
  /** 256 values in 8 sub-blocks of 32, 6-bit scales and mins under f16 super-scales, 4-bit {@code q}. */
  Q4_K(12, 256, 144, true),
  /** As {@link #Q4_K} with a fifth bit per value. */
  Q5_K(13, 256, 176, true),
  /** 256 values in 16 sub-blocks of 16, 8-bit signed scales under an f16 super-scale, 6-bit {@code q}. */
  Q6_K(14, 256, 210, true),
  Q8_K(15, 256, 292, false),
  IQ2_XXS(16, 256, 66, false),
  IQ2_XS(17, 256, 74, false),
  IQ3_XXS(18, 256, 98, false),
  IQ1_S(19, 256, 50, false),
  IQ4_NL(20, 32, 18, false),
  IQ3_S(21, 256, 110, false),
  IQ2_S(22, 256, 82, false),
  IQ4_XS(23, 256, 136, false),
  I8(24, 1, 1, true),
  I16(25, 1, 2, true),
  I32(26, 1, 4, true),
  I64(27, 1, 8, true),
  F64(28, 1, 8, true),
  IQ1_M(29, 256, 56, false),
  BF16(30, 1, 2, true),
  TQ1_0(34, 256, 54, false),
  TQ2_0(35, 256, 66, false),
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

  /** The id stored in GGUF tensor infos. */
  public int id() {
    return id;
  }

  /** Values per block (1 for plain types). */
  public int blockSize() {
    return blockSize;
  }

  /** Bytes per block. */
  public int blockBytes() {
    return blockBytes;
  }

  /** Whether this library reads the type (plain types and the block types it dequantizes). */
  public boolean supported() {
    return supported;
  }

  /** Whether values come in blocks with shared scales (everything but the plain types). */
  public boolean blockQuantized() {
    return blockSize > 1;
  }

  /** The {@link DType} of a plain type; for a block type {@link DType#U8} (the raw bytes). */
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

  /** The type with this id, if ggml defines one. */
  public static Optional<GgmlType> ofId(long id) {
    for (GgmlType t : values()) {
      if (t.id == id) {
        return Optional.of(t);
      }
    }
    return Optional.empty();
  }

  /** The supported types' names, for messages: {@code "F32, F16, Q4_0, ..."}. */
  public static String supportedNames() {
    return Arrays.stream(values()).filter(GgmlType::supported).map(Enum::name).collect(Collectors.joining(", "));
  }
}
