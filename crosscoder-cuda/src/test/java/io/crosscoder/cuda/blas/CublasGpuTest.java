package io.crosscoder.cuda.blas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Each binding on a real GPU against an f64 loop, with error bounds from the summation's worst
 * case. Needs a CUDA driver and device (through JCuda's driver API, which also makes the
 * context) and the binding's cuBLAS; skipped, with the reason, where any is missing.
 */
class CublasGpuTest {
  private static final double F32_EPS = Math.ulp(1f) / 2; // unit roundoff 2^-24
  private static final double TF32_EPS = Math.scalb(1.0, -11); // 10 stored mantissa bits
  private static CUdevice device;
  private static CUcontext context;

  /** A driver allocation whose raw address the test can hand to {@link Cublas}. */
  private static final class DeviceBuffer extends CUdeviceptr {
    DeviceBuffer(long bytes) {
      check(JCudaDriver.cuMemAlloc(this, bytes), "cuMemAlloc");
    }

    long address() {
      return getNativePointer();
    }
  }

  /** Why no GPU test can run here, or null; each test skips with it, so the reason is reported. */
  private static String whyNoGpu;

  @BeforeAll
  static void retainPrimaryContext() {
    try {
      JCudaDriver.setExceptionsEnabled(false);
      int init = JCudaDriver.cuInit(0);
      if (init != 0) {
        whyNoGpu = "cuInit failed with CUresult " + init + ": no usable GPU";
        return;
      }
      int[] count = new int[1];
      JCudaDriver.cuDeviceGetCount(count);
      if (count[0] == 0) {
        whyNoGpu = "no CUDA device";
        return;
      }
      device = new CUdevice();
      check(JCudaDriver.cuDeviceGet(device, 0), "cuDeviceGet");
      CUcontext primary = new CUcontext();
      check(JCudaDriver.cuDevicePrimaryCtxRetain(primary, device), "cuDevicePrimaryCtxRetain");
      context = primary;
      check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    } catch (LinkageError e) {
      whyNoGpu = "no CUDA driver (JCuda cannot load libcuda.so.1): " + e.getClass().getSimpleName();
    }
  }

  @AfterAll
  static void releasePrimaryContext() {
    if (context != null) {
      JCudaDriver.cuDevicePrimaryCtxRelease(device);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"jcublas", "ffm"})
  void sgemmTf32AndBf16MatchAnF64Loop(String preference) {
    assumeTrue(whyNoGpu == null, () -> whyNoGpu);
    CublasLoader.Loaded loaded = CublasLoader.load(preference);
    assumeTrue(loaded.available(), loaded::description);
    check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    int m = 67, n = 45, k = 129;
    boolean ta = true, tb = false;
    int lda = k + 3, ldb = k + 1, ldc = m + 2;
    Random random = new Random(42);
    float[] a = new float[lda * m];
    float[] b = new float[ldb * n];
    float[] c = new float[ldc * n];
    for (float[] x : new float[][] {a, b, c}) {
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) (random.nextGaussian());
      }
    }
    try (Cublas blas = loaded.create()) {
      assertThat(blas.description()).contains(preference.equals("ffm") ? "through FFM" : "through JCublas");
      // IEEE f32: each product is exact in f64; the f32 sum errs by at most k * u * sum |a||b|.
      float[] got = run(blas, false, ta, tb, m, n, k, a, lda, b, ldb, c, ldc, 0.75f, -0.5f);
      assertClose(got, ta, tb, m, n, k, a, lda, b, ldb, c, ldc, 0.75, -0.5, (k + 2) * F32_EPS);
      // TF32: inputs rounded to 10 mantissa bits first, so the product's relative error adds 2 * 2^-11.
      blas.setTf32(true);
      float[] tf32 = run(blas, false, ta, tb, m, n, k, a, lda, b, ldb, c, ldc, 0.75f, -0.5f);
      assertClose(tf32, ta, tb, m, n, k, a, lda, b, ldb, c, ldc, 0.75, -0.5, 2 * TF32_EPS + (k + 2) * F32_EPS);
      blas.setTf32(false);
      // BF16 inputs (values exact in BF16), f32 accumulation.
      float[] a16 = roundedToBf16(a);
      float[] b16 = roundedToBf16(b);
      float[] bf = run(blas, true, ta, tb, m, n, k, a16, lda, b16, ldb, c, ldc, 1.25f, 0f);
      assertClose(bf, ta, tb, m, n, k, a16, lda, b16, ldb, c, ldc, 1.25, 0, (k + 2) * F32_EPS);
    }
  }

  private static float[] run(Cublas blas, boolean bf16, boolean ta, boolean tb, int m, int n, int k,
      float[] a, int lda, float[] b, int ldb, float[] c, int ldc, float alpha, float beta) {
    DeviceBuffer da = upload(a, bf16);
    DeviceBuffer db = upload(b, bf16);
    DeviceBuffer dc = upload(c, false);
    try {
      if (bf16) {
        blas.gemmBf16(ta, tb, m, n, k, alpha, da.address(), lda, db.address(), ldb, beta, dc.address(), ldc);
      } else {
        blas.sgemm(ta, tb, m, n, k, alpha, da.address(), lda, db.address(), ldb, beta, dc.address(), ldc);
      }
      check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
      float[] out = new float[c.length];
      check(JCudaDriver.cuMemcpyDtoH(Pointer.to(out), dc, 4L * out.length), "cuMemcpyDtoH");
      return out;
    } finally {
      JCudaDriver.cuMemFree(da);
      JCudaDriver.cuMemFree(db);
      JCudaDriver.cuMemFree(dc);
    }
  }

  private static DeviceBuffer upload(float[] values, boolean bf16) {
    if (bf16) {
      short[] bits = new short[values.length];
      for (int i = 0; i < values.length; i++) {
        bits[i] = GemmOracle.bf16(values[i]);
      }
      DeviceBuffer d = new DeviceBuffer(2L * bits.length);
      check(JCudaDriver.cuMemcpyHtoD(d, Pointer.to(bits), 2L * bits.length), "cuMemcpyHtoD");
      return d;
    }
    DeviceBuffer d = new DeviceBuffer(4L * values.length);
    check(JCudaDriver.cuMemcpyHtoD(d, Pointer.to(values), 4L * values.length), "cuMemcpyHtoD");
    return d;
  }

  /** Truncates each value to BF16 (exactly representable afterwards). */
  private static float[] roundedToBf16(float[] v) {
    float[] r = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      r[i] = Float.intBitsToFloat(Float.floatToRawIntBits(v[i]) & 0xFFFF0000);
    }
    return r;
  }

  private static void assertClose(float[] got, boolean ta, boolean tb, int m, int n, int k, float[] a,
      int lda, float[] b, int ldb, float[] c, int ldc, double alpha, double beta, double relative) {
    double[] expected = GemmOracle.gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    for (int j = 0; j < n; j++) {
      for (int i = 0; i < m; i++) {
        double magnitude = 0;
        for (int p = 0; p < k; p++) {
          double av = ta ? a[p + i * lda] : a[i + p * lda];
          double bv = tb ? b[j + p * ldb] : b[p + j * ldb];
          magnitude += Math.abs(av * bv);
        }
        double bound = relative * (Math.abs(alpha) * magnitude + Math.abs(beta * c[i + j * ldc])) + 1e-30;
        int at = i + j * ldc;
        assertThat((double) got[at]).as("C[%d,%d]", i, j).isCloseTo(expected[at], org.assertj.core.data.Offset.offset(bound));
      }
    }
    // Padding rows of C are untouched.
    for (int j = 0; j < n; j++) {
      for (int i = m; i < ldc; i++) {
        assertThat(got[i + j * ldc]).isEqualTo(c[i + j * ldc]);
      }
    }
  }

  private static void check(int result, String call) {
    if (result != 0) {
      throw new AssertionError(call + " failed with CUresult " + result);
    }
  }
}
