package io.crosscoder.io.gguf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Test-side encoders of ggml blocks, written from the block layouts (field order, bit positions)
 * independently of the reader's decoders: each packs chosen integer codes and scales into bytes
 * and returns, beside the bytes, the values the layout's formula gives for them. The quantizers
 * ({@link #quantizeQ8_0} and friends) choose codes for given floats by simple rules; what they
 * return as values is still the formula applied to the chosen codes.
 */
final class GgmlEncode {
  private GgmlEncode() {}

  /** Bytes of some blocks and the values they stand for. */
  record Encoded(byte[] bytes, float[] values) {}

  static float half(float v) {
    return Float.float16ToFloat(Float.floatToFloat16(v));
  }

  private static void putHalf(ByteBuffer b, float v) {
    b.putShort(Float.floatToFloat16(v));
  }

  private static ByteBuffer buffer(int n) {
    return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Q4_0: codes {@code q[32]} in 0..15; {@code x = (q - 8) d}. */
  static Encoded q40(float d, int[] q) {
    ByteBuffer b = buffer(18);
    putHalf(b, d);
    float[] x = new float[32];
    for (int j = 0; j < 16; j++) {
      b.put((byte) (q[j] | q[j + 16] << 4));
    }
    for (int j = 0; j < 32; j++) {
      x[j] = (q[j] - 8) * half(d);
    }
    return new Encoded(b.array(), x);
  }

  /** Q4_1: {@code x = q d + m}. */
  static Encoded q41(float d, float m, int[] q) {
    ByteBuffer b = buffer(20);
    putHalf(b, d);
    putHalf(b, m);
    for (int j = 0; j < 16; j++) {
      b.put((byte) (q[j] | q[j + 16] << 4));
    }
    float[] x = new float[32];
    for (int j = 0; j < 32; j++) {
      x[j] = q[j] * half(d) + half(m);
    }
    return new Encoded(b.array(), x);
  }

  /** Q5_0: codes in 0..31 (fifth bit of element j in bit j of qh); {@code x = (q - 16) d}. */
  static Encoded q50(float d, int[] q) {
    ByteBuffer b = buffer(22);
    putHalf(b, d);
    int qh = 0;
    for (int j = 0; j < 32; j++) {
      qh |= ((q[j] >> 4) & 1) << j;
    }
    b.putInt(qh);
    for (int j = 0; j < 16; j++) {
      b.put((byte) ((q[j] & 15) | (q[j + 16] & 15) << 4));
    }
    float[] x = new float[32];
    for (int j = 0; j < 32; j++) {
      x[j] = (q[j] - 16) * half(d);
    }
    return new Encoded(b.array(), x);
  }

  /** Q5_1: {@code x = q d + m}. */
  static Encoded q51(float d, float m, int[] q) {
    ByteBuffer b = buffer(24);
    putHalf(b, d);
    putHalf(b, m);
    int qh = 0;
    for (int j = 0; j < 32; j++) {
      qh |= ((q[j] >> 4) & 1) << j;
    }
    b.putInt(qh);
    for (int j = 0; j < 16; j++) {
      b.put((byte) ((q[j] & 15) | (q[j + 16] & 15) << 4));
    }
    float[] x = new float[32];
    for (int j = 0; j < 32; j++) {
      x[j] = q[j] * half(d) + half(m);
    }
    return new Encoded(b.array(), x);
  }

  /** Q8_0: codes in -128..127; {@code x = q d}. */
  static Encoded q80(float d, int[] q) {
    ByteBuffer b = buffer(34);
    putHalf(b, d);
    float[] x = new float[32];
    for (int j = 0; j < 32; j++) {
      b.put((byte) q[j]);
      x[j] = q[j] * half(d);
    }
    return new Encoded(b.array(), x);
  }

  /**
   * The 12 bytes holding eight 6-bit scales and eight 6-bit mins: bytes 0-3 hold scales 0-3 in
   * their low 6 bits and the top 2 bits of scales 4-7 above; bytes 4-7 likewise for the mins;
   * bytes 8-11 hold the low 4 bits of scales 4-7 (low nibble) and of mins 4-7 (high nibble).
   */
  static byte[] packScales(int[] sc, int[] m) {
    byte[] out = new byte[12];
    for (int j = 0; j < 4; j++) {
      out[j] = (byte) (sc[j] | (sc[j + 4] >> 4) << 6);
      out[j + 4] = (byte) (m[j] | (m[j + 4] >> 4) << 6);
      out[j + 8] = (byte) ((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
    }
    return out;
  }

  /**
   * Q4_K: 8 sub-blocks of 32 with 6-bit {@code sc[s]}, {@code m[s]}; codes {@code q[256]} in 0..15;
   * element {@code 32 s + l} is {@code d sc[s] q - dmin m[s]}. Sub-blocks 2g and 2g+1 share bytes
   * {@code qs[32g .. 32g+31]}: low nibbles for the first, high nibbles for the second.
   */
  static Encoded q4k(float d, float dmin, int[] sc, int[] m, int[] q) {
    ByteBuffer b = buffer(144);
    putHalf(b, d);
    putHalf(b, dmin);
    b.put(packScales(sc, m));
    for (int g = 0; g < 4; g++) {
      for (int l = 0; l < 32; l++) {
        b.put((byte) (q[64 * g + l] | q[64 * g + 32 + l] << 4));
      }
    }
    float[] x = new float[256];
    for (int i = 0; i < 256; i++) {
      int s = i / 32;
      x[i] = half(d) * sc[s] * q[i] - half(dmin) * m[s];
    }
    return new Encoded(b.array(), x);
  }

  /** Q5_K: as Q4_K with codes in 0..31; the fifth bit of element {@code 32 s + l} is bit {@code s} of {@code qh[l]}. */
  static Encoded q5k(float d, float dmin, int[] sc, int[] m, int[] q) {
    ByteBuffer b = buffer(176);
    putHalf(b, d);
    putHalf(b, dmin);
    b.put(packScales(sc, m));
    byte[] qh = new byte[32];
    for (int i = 0; i < 256; i++) {
      qh[i % 32] |= (byte) (((q[i] >> 4) & 1) << (i / 32));
    }
    b.put(qh);
    for (int g = 0; g < 4; g++) {
      for (int l = 0; l < 32; l++) {
        b.put((byte) ((q[64 * g + l] & 15) | (q[64 * g + 32 + l] & 15) << 4));
      }
    }
    float[] x = new float[256];
    for (int i = 0; i < 256; i++) {
      int s = i / 32;
      x[i] = half(d) * sc[s] * q[i] - half(dmin) * m[s];
    }
    return new Encoded(b.array(), x);
  }

  /**
   * Q6_K: 16 sub-blocks of 16 with signed 8-bit {@code sc[s]}; codes {@code q[256]} in 0..63;
   * element {@code 16 s + l} is {@code d sc[s] (q - 32)}. In each half {@code h} of 128 elements,
   * element {@code 128h + 32k + l} ({@code k < 4}, {@code l < 32}) keeps its low 4 bits in {@code
   * ql[64h + l + 32 (k mod 2)]} (low nibble for k < 2, high for k >= 2) and its top 2 bits at bit
   * {@code 2k} of {@code qh[32h + l]}.
   */
  static Encoded q6k(float d, int[] sc, int[] q) {
    byte[] ql = new byte[128];
    byte[] qh = new byte[64];
    for (int h = 0; h < 2; h++) {
      for (int k = 0; k < 4; k++) {
        for (int l = 0; l < 32; l++) {
          int v = q[128 * h + 32 * k + l];
          int at = 64 * h + l + 32 * (k % 2);
          ql[at] |= (byte) (k < 2 ? (v & 15) : (v & 15) << 4);
          qh[32 * h + l] |= (byte) (((v >> 4) & 3) << (2 * k));
        }
      }
    }
    ByteBuffer b = buffer(210);
    b.put(ql).put(qh);
    for (int s = 0; s < 16; s++) {
      b.put((byte) sc[s]);
    }
    putHalf(b, d);
    float[] x = new float[256];
    for (int i = 0; i < 256; i++) {
      x[i] = half(d) * sc[i / 16] * (q[i] - 32);
    }
    return new Encoded(b.array(), x);
  }

  /** Q8_0 of a row whose length is a multiple of 32: {@code d = max|x| / 127}, {@code q = round(x / d)}. */
  static Encoded quantizeQ8_0(float[] row) {
    int blocks = row.length / 32;
    byte[] out = new byte[34 * blocks];
    float[] x = new float[row.length];
    for (int k = 0; k < blocks; k++) {
      float amax = 0;
      for (int j = 0; j < 32; j++) {
        amax = Math.max(amax, Math.abs(row[32 * k + j]));
      }
      float d = half(amax / 127f);
      int[] q = new int[32];
      for (int j = 0; j < 32; j++) {
        q[j] = d == 0 ? 0 : Math.max(-128, Math.min(127, Math.round(row[32 * k + j] / d)));
      }
      Encoded e = q80(d, q);
      System.arraycopy(e.bytes(), 0, out, 34 * k, 34);
      System.arraycopy(e.values(), 0, x, 32 * k, 32);
    }
    return new Encoded(out, x);
  }

  /**
   * Q4_K of a row whose length is a multiple of 256: per sub-block of 32, the range [min(0, lo),
   * hi] is cut in 15 steps; scales and mins are coded in 6 bits under per-block super-scales.
   */
  static Encoded quantizeQ4K(float[] row) {
    int blocks = row.length / 256;
    byte[] out = new byte[144 * blocks];
    float[] x = new float[row.length];
    for (int k = 0; k < blocks; k++) {
      float[] scale = new float[8];
      float[] min = new float[8];
      for (int s = 0; s < 8; s++) {
        float lo = 0;
        float hi = 0;
        for (int l = 0; l < 32; l++) {
          float v = row[256 * k + 32 * s + l];
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        scale[s] = (hi - lo) / 15;
        min[s] = -lo;
      }
      float maxScale = 0;
      float maxMin = 0;
      for (int s = 0; s < 8; s++) {
        maxScale = Math.max(maxScale, scale[s]);
        maxMin = Math.max(maxMin, min[s]);
      }
      float d = half(maxScale / 63);
      float dmin = half(maxMin / 63);
      int[] sc = new int[8];
      int[] m = new int[8];
      int[] q = new int[256];
      for (int s = 0; s < 8; s++) {
        sc[s] = d == 0 ? 0 : Math.min(63, Math.round(scale[s] / d));
        m[s] = dmin == 0 ? 0 : Math.min(63, Math.round(min[s] / dmin));
        float step = d * sc[s];
        float offset = dmin * m[s];
        for (int l = 0; l < 32; l++) {
          float v = row[256 * k + 32 * s + l];
          q[32 * s + l] = step == 0 ? 0 : Math.max(0, Math.min(15, Math.round((v + offset) / step)));
        }
      }
      Encoded e = q4k(d, dmin, sc, m, q);
      System.arraycopy(e.bytes(), 0, out, 144 * k, 144);
      System.arraycopy(e.values(), 0, x, 256 * k, 256);
    }
    return new Encoded(out, x);
  }

  /** Q6_K of a row whose length is a multiple of 256: per sub-block of 16, a signed scale of max|x| / 31. */
  static Encoded quantizeQ6K(float[] row) {
    int blocks = row.length / 256;
    byte[] out = new byte[210 * blocks];
    float[] x = new float[row.length];
    for (int k = 0; k < blocks; k++) {
      float[] scale = new float[16];
      float maxScale = 0;
      for (int s = 0; s < 16; s++) {
        float amax = 0;
        for (int l = 0; l < 16; l++) {
          amax = Math.max(amax, Math.abs(row[256 * k + 16 * s + l]));
        }
        scale[s] = amax / 31;
        maxScale = Math.max(maxScale, scale[s]);
      }
      float d = half(maxScale / 127);
      int[] sc = new int[16];
      int[] q = new int[256];
      for (int s = 0; s < 16; s++) {
        sc[s] = d == 0 ? 0 : Math.min(127, Math.round(scale[s] / d));
        float step = d * sc[s];
        for (int l = 0; l < 16; l++) {
          float v = row[256 * k + 16 * s + l];
          q[16 * s + l] = 32 + (step == 0 ? 0 : Math.max(-32, Math.min(31, Math.round(v / step))));
        }
      }
      Encoded e = q6k(d, sc, q);
      System.arraycopy(e.bytes(), 0, out, 210 * k, 210);
      System.arraycopy(e.values(), 0, x, 256 * k, 256);
    }
    return new Encoded(out, x);
  }
}
