package io.crosscoder.cuda.blas;

import io.crosscoder.CrosscoderException;
import jcuda.CudaException;
import jcuda.JCudaVersion;
import jcuda.Pointer;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;

/**
 * {@link Cublas} through JCuda's {@code jcuda.jcublas.JCublas2}, whose JNI library (from the
 * {@code jcublas-natives} jar) links {@code libcublas.so.12}. Every JCuda type is confined to this
 * class, so {@link CublasLoader} can catch the {@link LinkageError} of a machine without the
 * natives, or without JCuda on the class path, where it first touches this class.
 *
 * <p>JCublas2's own exception mode is left as it is (off unless someone turned it on); status
 * codes are checked here, and a {@link CudaException} from that mode is turned into the same
 * {@link CrosscoderException}. Methods are {@code synchronized} on the handle.
 */
final class JCublasBinding extends CublasHandle {

  /** A JCuda pointer to a raw device address: JCuda exposes only the protected constructor. */
  private static final class DeviceAddress extends Pointer {
    DeviceAddress(long address) {
      super(address);
    }
  }

  private final cublasHandle handle;

  private JCublasBinding(cublasHandle handle, String version) {
    super("cuBLAS " + version + " through JCublas " + jcudaVersion() + " (libcublas.so.12)");
    this.handle = handle;
  }

  /** JCuda's version, e.g. {@code "12.6.0"}; needs only the JCuda jar, no native library. */
  static String jcudaVersion() {
    return JCudaVersion.get();
  }

  /**
   * Loads libJCublas2 (and so {@code libcublas.so.12}) if not yet loaded, and returns cuBLAS's
   * version from {@code cublasGetProperty} ({@code "12.6.4"}), or an empty string when it cannot
   * say. Creates no handle and needs no GPU.
   *
   * @throws LinkageError when the JNI library or {@code libcublas.so.12} cannot be loaded, or
   *     JCuda is not on the class path
   */
  static String loadNatives() {
    JCublas2.initialize();
    StringBuilder v = new StringBuilder();
    int[] value = new int[1];
    int[] properties = {CublasEnums.MAJOR_VERSION, CublasEnums.MINOR_VERSION, CublasEnums.PATCH_LEVEL};
    try {
      for (int property : properties) {
        if (JCublas2.cublasGetProperty(property, value) != CublasStatus.SUCCESS) {
          return "";
        }
        v.append(v.isEmpty() ? "" : ".").append(value[0]);
      }
    } catch (CudaException e) {
      return "";
    }
    return v.toString();
  }

  /**
   * Creates a handle ({@code cublasCreate_v2}) on the CUDA context current on this thread.
   *
   * @throws CrosscoderException when cuBLAS refuses, e.g. {@code CUBLAS_STATUS_NOT_INITIALIZED}
   *     without a usable context or driver
   */
  static JCublasBinding create() {
    cublasHandle handle = new cublasHandle();
    check(() -> JCublas2.cublasCreate(handle), CublasFunctions.CREATE, "handle=&out");
    try {
      int[] version = new int[1];
      check(() -> JCublas2.cublasGetVersion(handle, version), CublasFunctions.GET_VERSION, "handle=" + handle);
      return new JCublasBinding(handle, CublasEnums.version(version[0]));
    } catch (RuntimeException e) {
      try {
        JCublas2.cublasDestroy(handle);
      } catch (RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  @Override
  void callSgemm(GemmCall call) {
    boolean transA = call.transA();
    boolean transB = call.transB();
    int m = call.m();
    int n = call.n();
    int k = call.k();
    check(() -> JCublas2.cublasSgemm(handle,
        CublasEnums.operation(transA), CublasEnums.operation(transB), m, n, k,
        Pointer.to(new float[] {call.alpha()}), new DeviceAddress(call.a()), call.lda(),
        new DeviceAddress(call.b()), call.ldb(),
        Pointer.to(new float[] {call.beta()}), new DeviceAddress(call.c()), call.ldc()),
        CublasFunctions.SGEMM, call.describe());
  }

  @Override
  void callGemmBf16(GemmCall call) {
    // JCublas 12.6.0's JNI code calls the C++ overload of cublasGemmEx that takes the compute
    // type as a cudaDataType and migrates it (cublasMigrateComputeType, inline in cublas_api.h):
    // CUDA_R_32F becomes CUBLAS_COMPUTE_32F unless the math mode is pedantic, which this class never
    // sets; CUBLAS_COMPUTE_32F itself (68) is not a cudaDataType and is refused with
    // CUBLAS_STATUS_NOT_SUPPORTED. Seen by disassembling libJCublas2 and by the fake-library test.
    check(() -> JCublas2.cublasGemmEx(handle,
        CublasEnums.operation(call.transA()), CublasEnums.operation(call.transB()), call.m(), call.n(), call.k(),
        Pointer.to(new float[] {call.alpha()}),
        new DeviceAddress(call.a()), CublasEnums.CUDA_R_16BF, call.lda(),
        new DeviceAddress(call.b()), CublasEnums.CUDA_R_16BF, call.ldb(),
        Pointer.to(new float[] {call.beta()}),
        new DeviceAddress(call.c()), CublasEnums.CUDA_R_32F, call.ldc(),
        CublasEnums.CUDA_R_32F, CublasEnums.CUBLAS_GEMM_DEFAULT),
        CublasFunctions.GEMM_EX, call.describe()
            + ", Atype=CUDA_R_16BF, Btype=CUDA_R_16BF, Ctype=CUDA_R_32F,"
            + " computeType=CUBLAS_COMPUTE_32F (as CUDA_R_32F, migrated), algo=CUBLAS_GEMM_DEFAULT");
  }

  @Override
  void callSetMathMode(int mode, String arguments) {
    check(() -> JCublas2.cublasSetMathMode(handle, mode), CublasFunctions.SET_MATH_MODE, arguments);
  }

  @Override
  void callDestroy() {
    check(() -> JCublas2.cublasDestroy(handle), CublasFunctions.DESTROY, "handle=" + handle);
  }

  /** A JCublas2 call returning a {@code cublasStatus_t}. */
  @FunctionalInterface
  private interface StatusCall {
    int run();
  }

  private static void check(StatusCall call, String function, String arguments) {
    int status;
    try {
      status = call.run();
    } catch (CudaException e) {
      // JCublas2.setExceptionsEnabled(true) somewhere in the process: same message, kept cause.
      throw new CrosscoderException(function + "(" + arguments + ") failed: " + e.getMessage(), e);
    }
    CublasStatus.check(status, function, arguments);
  }
}
