package io.crosscoder.io.gguf;

/**
 * Dequantization of one ggml block to f32, from the published block layouts (ggml's {@code
 * block_q4_0} ... {@code block_q6_K}; all multi-byte fields little-endian, {@code f16} is IEEE
 * binary16). Values are produced in the block's element order. Each method reads {@code
 * type.blockBytes()} bytes of {@code src} from {@code at} and writes {@code type.blockSize()}
 * floats into {@code dst} from {@code to}. The arithmetic is ggml's reference order in f32
 * (products of an f32 scale and a small integer, then a subtraction or addition), so results agree
 * bit for bit with ggml's scalar dequantization.
 *
 * <p>Layouts (offsets in bytes):
 *
 * <ul>
 *   <li>Q4_0 (18 B / 32): {@code d} f16 at 0; {@code qs[16]} at 2. Element {@code j < 16} is the
 *       low nibble of {@code qs[j]}, element {@code j + 16} its high nibble; {@code x = (q - 8) d}.
 *   <li>Q4_1 (20 B / 32): {@code d}, {@code m} f16 at 0, 2; {@code qs[16]} at 4; {@code x = q d + m}.
 *   <li>Q5_0 (22 B / 32): {@code d} at 0; {@code qh} u32 at 2 (bit {@code j} is the fifth bit of
 *       element {@code j}); {@code qs[16]} at 6; {@code x = (q - 16) d}.
 *   <li>Q5_1 (24 B / 32): {@code d}, {@code m} at 0, 2; {@code qh} u32 at 4; {@code qs[16]} at 8;
 *       {@code x = q d + m}.
 *   <li>Q8_0 (34 B / 32): {@code d} at 0; {@code qs[32]} signed at 2; {@code x = q d}.
 *   <li>Q4_K (144 B / 256): {@code d}, {@code dmin} f16 at 0, 2; {@code scales[12]} at 4 (eight
 *       6-bit scales {@code sc} and eight 6-bit mins {@code m}, packed as below); {@code qs[128]}
 *       at 16. Elements come in four groups of 64: group {@code g} takes the low nibbles of {@code
 *       qs[32g .. 32g+31]} for sub-block {@code 2g} and their high nibbles for sub-block {@code
 *       2g+1}; {@code x = d sc q - dmin m}.
 *   <li>Q5_K (176 B / 256): as Q4_K with {@code qh[32]} at 16 and {@code qs[128]} at 48; the fifth
 *       bit of element {@code l} of sub-block {@code s} is bit {@code s} of {@code qh[l]}.
 *   <li>Q6_K (210 B / 256): {@code ql[128]} at 0, {@code qh[64]} at 128, {@code scales[16]} signed
 *       at 192, {@code d} f16 at 208. Two halves of 128; in half {@code h}, for {@code l < 32},
 *       the four values {@code l, l+32, l+64, l+96} take the low nibble of {@code ql[64h+l]}, of
 *       {@code ql[64h+l+32]}, the high nibble of {@code ql[64h+l]}, of {@code ql[64h+l+32]}, with
 *       bits 0-1, 2-3, 4-5, 6-7 of {@code qh[32h+l]} above them; {@code x = d scales[8h + l/16 +
 *       2i] (q - 32)} for the {@code i}-th of the four.
 * </ul>
 *
 * <p>The 6-bit scale/min packing of Q4_K and Q5_K: for sub-block {@code j < 4}, {@code sc =
 * scales[j] & 63} and {@code m = scales[j+4] & 63}; for {@code j >= 4}, {@code sc = (scales[j+4] &
 * 15) | (scales[j-4] >> 6) << 4} and {@code m = (scales[j+4] >> 4) | (scales[j] >> 6) << 4}.
 */
final class GgmlBlocks {
  private GgmlBlocks() {}

  /** Decodes one block of {@code type} (a supported block type). */
  static void decode(GgmlType type, byte[] src, int at, float[] dst, int to) {
    switch (type) {
      case Q4_0 -> q40(src, at, dst, to);
      case Q4_1 -> q41(src, at, dst, to);
      case Q5_0 -> q50(src, at, dst, to);
      case Q5_1 -> q51(src, at, dst, to);
      case Q8_0 -> q80(src, at, dst, to);
      case Q4_K -> q4k(src, at, dst, to);
      case Q5_K -> q5k(src, at, dst, to);
      case Q6_K -> q6k(src, at, dst, to);
      default -> throw new IllegalArgumentException(type + " is not a block type this library dequantizes");
    }
  }

  static float f16(byte[] b, int at) {
    return Float.float16ToFloat((short) ((b[at] & 0xff) | (b[at + 1] & 0xff) << 8));
  }

  private static int u32(byte[] b, int at) {
    return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16 | (b[at + 3] & 0xff) << 24;
  }

  private static void q40(byte[] b, int at, float[] y, int to) {
    float d = f16(b, at);
    for (int j = 0; j < 16; j++) {
      int q = b[at + 2 + j] & 0xff;
      y[to + j] = ((q & 0xf) - 8) * d;
      y[to + j + 16] = ((q >>> 4) - 8) * d;
    }
  }

  private static void q41(byte[] b, int at, float[] y, int to) {
    float d = f16(b, at);
    float m = f16(b, at + 2);
    for (int j = 0; j < 16; j++) {
      int q = b[at + 4 + j] & 0xff;
      y[to + j] = (q & 0xf) * d + m;
      y[to + j + 16] = (q >>> 4) * d + m;
    }
  }

  private static void q50(byte[] b, int at, float[] y, int to) {
    float d = f16(b, at);
    int qh = u32(b, at + 2);
    for (int j = 0; j < 16; j++) {
      int q = b[at + 6 + j] & 0xff;
      int lo = (q & 0xf) | ((qh >>> j) & 1) << 4;
      int hi = (q >>> 4) | ((qh >>> (j + 16)) & 1) << 4;
      y[to + j] = (lo - 16) * d;
      y[to + j + 16] = (hi - 16) * d;
    }
  }

  private static void q51(byte[] b, int at, float[] y, int to) {
    float d = f16(b, at);
    float m = f16(b, at + 2);
    int qh = u32(b, at + 4);
    for (int j = 0; j < 16; j++) {
      int q = b[at + 8 + j] & 0xff;
      int lo = (q & 0xf) | ((qh >>> j) & 1) << 4;
      int hi = (q >>> 4) | ((qh >>> (j + 16)) & 1) << 4;
      y[to + j] = lo * d + m;
      y[to + j + 16] = hi * d + m;
    }
  }

  private static void q80(byte[] b, int at, float[] y, int to) {
    float d = f16(b, at);
    for (int j = 0; j < 32; j++) {
      y[to + j] = b[at + 2 + j] * d;
    }
  }

  /** The 6-bit scale of sub-block {@code j} from the 12 packed bytes at {@code s}. */
  static int kScale(byte[] b, int s, int j) {
    return j < 4 ? b[s + j] & 63 : (b[s + j + 4] & 0xf) | ((b[s + j - 4] & 0xff) >>> 6) << 4;
  }

  /** The 6-bit min of sub-block {@code j}. */
  static int kMin(byte[] b, int s, int j) {
    return j < 4 ? b[s + j + 4] & 63 : ((b[s + j + 4] & 0xff) >>> 4) | ((b[s + j] & 0xff) >>> 6) << 4;
  }

  private static void q4k(byte[] b, int at, float[] y, int to) {
    float d = f16(b, at);
    float dmin = f16(b, at + 2);
    int scales = at + 4;
    int qs = at + 16;
    for (int g = 0; g < 4; g++) {
      float d1 = d * kScale(b, scales, 2 * g);
      float m1 = dmin * kMin(b, scales, 2 * g);
      float d2 = d * kScale(b, scales, 2 * g + 1);
      float m2 = dmin * kMin(b, scales, 2 * g + 1);
      int base = to + 64 * g;
      for (int l = 0; l < 32; l++) {
        int q = b[qs + 32 * g + l] & 0xff;
        y[base + l] = d1 * (q & 0xf) - m1;
        y[base + 32 + l] = d2 * (q >>> 4) - m2;
      }
    }
  }

  private static void q5k(byte[] b, int at, float[] y, int to) {
    float d = f16(b, at);
    float dmin = f16(b, at + 2);
    int scales = at + 4;
    int qh = at + 16;
    int qs = at + 48;
    for (int g = 0; g < 4; g++) {
      int s1 = 2 * g;
      int s2 = 2 * g + 1;
      float d1 = d * kScale(b, scales, s1);
      float m1 = dmin * kMin(b, scales, s1);
      float d2 = d * kScale(b, scales, s2);
      float m2 = dmin * kMin(b, scales, s2);
      int base = to + 64 * g;
      for (int l = 0; l < 32; l++) {
        int q = b[qs + 32 * g + l] & 0xff;
        int h = b[qh + l] & 0xff;
        y[base + l] = d1 * ((q & 0xf) + ((h >>> s1) & 1) * 16) - m1;
        y[base + 32 + l] = d2 * ((q >>> 4) + ((h >>> s2) & 1) * 16) - m2;
      }
    }
  }

  private static void q6k(byte[] b, int at, float[] y, int to) {
    float d = f16(b, at + 208);
    for (int half = 0; half < 2; half++) {
      int ql = at + 64 * half;
      int qh = at + 128 + 32 * half;
      int sc = at + 192 + 8 * half;
      int base = to + 128 * half;
      for (int l = 0; l < 32; l++) {
        int is = l / 16;
        int lo0 = b[ql + l] & 0xff;
        int lo1 = b[ql + l + 32] & 0xff;
        int h = b[qh + l] & 0xff;
        int q1 = ((lo0 & 0xf) | (h & 3) << 4) - 32;
        int q2 = ((lo1 & 0xf) | ((h >>> 2) & 3) << 4) - 32;
        int q3 = ((lo0 >>> 4) | ((h >>> 4) & 3) << 4) - 32;
        int q4 = ((lo1 >>> 4) | ((h >>> 6) & 3) << 4) - 32;
        y[base + l] = d * b[sc + is] * q1;
        y[base + l + 32] = d * b[sc + is + 2] * q2;
        y[base + l + 64] = d * b[sc + is + 4] * q3;
        y[base + l + 96] = d * b[sc + is + 6] * q4;
      }
    }
  }
}
