package io.crosscoder.tensor;

/**
 * Bit-exact conversions between the narrow floating-point formats and f32. All are exact: every
 * value of the narrow formats is representable in f32.
 */
public final class FloatFormats {
  private FloatFormats() {}

  /**
   * bfloat16 bits (the upper half of an f32) to f32.
   *
   * @param bits the bfloat16 bits
   * @return the same value as an f32 (exact)
   */
  public static float bf16ToFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }

  /**
   * f32 to bfloat16 with round-to-nearest-even; NaN stays NaN (made quiet).
   *
   * @param f the value
   * @return the bfloat16 bits of the nearest bfloat16 value
   */
  public static short floatToBf16(float f) {
    int bits = Float.floatToRawIntBits(f);
    if (Float.isNaN(f)) {
      return (short) ((bits >>> 16) | 0x0040);
    }
    int rounding = 0x7fff + ((bits >>> 16) & 1);
    return (short) ((bits + rounding) >>> 16);
  }

  /**
   * IEEE binary16 bits to f32.
   *
   * @param bits the binary16 bits
   * @return the same value as an f32 (exact)
   */
  public static float f16ToFloat(short bits) {
    return Float.float16ToFloat(bits);
  }

  /**
   * f32 to IEEE binary16, round-to-nearest-even; magnitudes from 65520 up become infinities.
   *
   * @param f the value
   * @return the binary16 bits of the nearest binary16 value
   */
  public static short floatToF16(float f) {
    return Float.floatToFloat16(f);
  }

  /**
   * F8_E4M3 ("e4m3fn": bias 7, no infinities, S.1111.111 is NaN) to f32.
   *
   * @param b the stored byte
   * @return its value as an f32 (exact)
   */
  public static float f8e4m3ToFloat(byte b) {
    int v = b & 0xff;
    int sign = v >>> 7;
    int exp = (v >>> 3) & 0xf;
    int man = v & 0x7;
    float mag;
    if (exp == 0xf && man == 0x7) {
      return Float.NaN;
    } else if (exp == 0) {
      mag = man * 0x1p-9f; // subnormal: man/8 * 2^(1-7)
    } else {
      mag = (1 + man / 8f) * Math.scalb(1f, exp - 7);
    }
    return sign == 0 ? mag : -mag;
  }

  /**
   * F8_E5M2 (bias 15, IEEE-like: the upper byte of a binary16) to f32.
   *
   * @param b the stored byte
   * @return its value as an f32 (exact)
   */
  public static float f8e5m2ToFloat(byte b) {
    return Float.float16ToFloat((short) ((b & 0xff) << 8));
  }
}
