package io.crosscoder.cpu.gemm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The plain-Java micro-kernel: a {@value #MR} x {@value #NR} tile held in sixteen scalar locals
 * (registers, after the JIT), one multiply and one add per term, nothing that needs {@code
 * jdk.incubator.vector}. Used when the Vector API is absent or disabled. It runs inside the same
 * packing and cache blocking as the vector kernel ({@link Sgemm}, {@link Blocking}); only the tile
 * is smaller, sized for scalar registers. Results differ from the vector kernel's only by f32
 * rounding (no fused multiply-add here).
 */
public final class ScalarMicroKernel implements MicroKernel {
  static final int MR = 4;
  static final int NR = 4;

  @Override
  public int mr() {
    return MR;
  }

  @Override
  public int nr() {
    return NR;
  }

  @Override
  public String name() {
    return "scalar " + MR + "x" + NR;
  }

  @Override
  public void multiply(int kc, float[] a, int aOffset, MemorySegment b, int bOffset, float alpha, float beta,
      MemorySegment c, long cOffset, int ldc, float[] tile) {
    float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f;
    float c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
    float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f;
    float c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;
    int ap = aOffset;
    int bp = bOffset;
    for (int p = 0; p < kc; p++, ap += MR, bp += NR) {
      float b0 = b.getAtIndex(ValueLayout.JAVA_FLOAT, bp + 0);
      float b1 = b.getAtIndex(ValueLayout.JAVA_FLOAT, bp + 1);
      float b2 = b.getAtIndex(ValueLayout.JAVA_FLOAT, bp + 2);
      float b3 = b.getAtIndex(ValueLayout.JAVA_FLOAT, bp + 3);
      float a0 = a[ap + 0];
      c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
      float a1 = a[ap + 1];
      c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
      float a2 = a[ap + 2];
      c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
      float a3 = a[ap + 3];
      c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
    }
    tile[0] = c00; tile[1] = c01; tile[2] = c02; tile[3] = c03;
    tile[4] = c10; tile[5] = c11; tile[6] = c12; tile[7] = c13;
    tile[8] = c20; tile[9] = c21; tile[10] = c22; tile[11] = c23;
    tile[12] = c30; tile[13] = c31; tile[14] = c32; tile[15] = c33;
    for (int i = 0; i < MR; i++) {
      long row = (cOffset + (long) i * ldc) * 4;
      for (int j = 0; j < NR; j++) {
        long at = row + 4L * j;
        float v = alpha * tile[i * NR + j];
        if (beta != 0f) {
          v += beta * c.get(ValueLayout.JAVA_FLOAT, at);
        }
        c.set(ValueLayout.JAVA_FLOAT, at, v);
      }
    }
  }
}
