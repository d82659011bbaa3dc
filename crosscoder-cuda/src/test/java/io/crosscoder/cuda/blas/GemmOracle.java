package io.crosscoder.cuda.blas;

/** Test data and the f64 reference product the binding tests compare against. */
final class GemmOracle {
  private GemmOracle() {}

  /** {@code count} small values with exact BF16 and f32 forms: multiples of 1/8 in [-2, 2). */
  static float[] values(int count, int seed) {
    float[] v = new float[count];
    long x = seed * 2654435761L + 12345;
    for (int i = 0; i < count; i++) {
      x = x * 6364136223846793005L + 1442695040888963407L;
      v[i] = ((int) ((x >>> 33) % 32) - 16) / 8f;
    }
    return v;
  }

  /**
   * {@code alpha op(A) op(B) + beta C} in f64, column-major, with BLAS's rule that {@code C} is
   * not read when {@code beta == 0}.
   */
  static double[] gemm(boolean ta, boolean tb, int m, int n, int k, double alpha, float[] a, int lda,
      float[] b, int ldb, double beta, float[] c, int ldc) {
    double[] out = new double[c.length];
    for (int i = 0; i < c.length; i++) {
      out[i] = c[i];
    }
    for (int j = 0; j < n; j++) {
      for (int i = 0; i < m; i++) {
        double s = 0;
        for (int p = 0; p < k; p++) {
          double av = ta ? a[p + i * lda] : a[i + p * lda];
          double bv = tb ? b[j + p * ldb] : b[p + j * ldb];
          s += av * bv;
        }
        out[i + j * ldc] = alpha * s + (beta == 0 ? 0 : beta * c[i + j * ldc]);
      }
    }
    return out;
  }

  /** The BF16 bits of {@code f}, which must be exactly representable (as {@link #values} are). */
  static short bf16(float f) {
    int bits = Float.floatToRawIntBits(f);
    if ((bits & 0xFFFF) != 0) {
      throw new IllegalArgumentException(f + " is not exact in BF16");
    }
    return (short) (bits >>> 16);
  }
}
