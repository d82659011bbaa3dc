package io.crosscoder.cuda.blas;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import io.crosscoder.CrosscoderException;
import io.crosscoder.cuda.nativelib.NativeLibrary;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.NoSuchElementException;

/**
 * {@link Cublas} through {@code java.lang.foreign} straight to {@code libcublas.so.13} or
 * {@code .so.12}, with no JNI library in between. The C signatures are those of
 * {@link CublasFunctions#DESCRIPTORS}.
 *
 * <p>Each handle owns a shared arena holding its two host scalars ({@code alpha}, {@code beta})
 * and the out-parameters; the methods are {@code synchronized}, so the scalars are written and
 * read by one call at a time (cuBLAS reads host-mode scalars before the call returns). The arena
 * is closed, after the handle is destroyed, by {@link #close()}.
 */
final class FfmCublasBinding extends CublasHandle {

  /** The downcall handles of one loaded libcublas; immutable, shared by its handles. */
  static final class Symbols {
    private final NativeLibrary library;
    private final MethodHandle create;
    private final MethodHandle destroy;
    private final MethodHandle getVersion;
    private final MethodHandle getProperty;
    private final MethodHandle setMathMode;
    private final MethodHandle sgemm;
    private final MethodHandle gemmEx;

    private Symbols(NativeLibrary library) {
      this.library = library;
      this.create = bind(library, CublasFunctions.CREATE);
      this.destroy = bind(library, CublasFunctions.DESTROY);
      this.getVersion = bind(library, CublasFunctions.GET_VERSION);
      this.getProperty = bind(library, CublasFunctions.GET_PROPERTY);
      this.setMathMode = bind(library, CublasFunctions.SET_MATH_MODE);
      this.sgemm = bind(library, CublasFunctions.SGEMM);
      this.gemmEx = bind(library, CublasFunctions.GEMM_EX);
    }

    /**
     * Binds every function of {@link CublasFunctions#DESCRIPTORS} in {@code library}.
     *
     * @throws NoSuchElementException naming the first missing symbol and the library
     */
    static Symbols bind(NativeLibrary library) {
      return new Symbols(library);
    }

    private static MethodHandle bind(NativeLibrary library, String name) {
      return library.downcall(name, CublasFunctions.DESCRIPTORS.get(name));
    }

    /** The library these symbols come from. */
    NativeLibrary library() {
      return library;
    }

    /**
     * The library's version from {@code cublasGetProperty} (no handle, no GPU needed), e.g.
     * {@code "13.0.2"}, or empty when it cannot say.
     */
    String propertyVersion() {
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment value = arena.allocate(JAVA_INT);
        StringBuilder v = new StringBuilder();
        int[] properties = {CublasEnums.MAJOR_VERSION, CublasEnums.MINOR_VERSION, CublasEnums.PATCH_LEVEL};
        for (int property : properties) {
          int status = (int) getProperty.invokeExact(property, value);
          if (status != CublasStatus.SUCCESS) {
            return "";
          }
          v.append(v.isEmpty() ? "" : ".").append(value.get(JAVA_INT, 0));
        }
        return v.toString();
      } catch (Throwable t) {
        return "";
      }
    }
  }

  private final Symbols symbols;
  private final Arena arena;
  private final MemorySegment handle;
  private final MemorySegment alphaHost;
  private final MemorySegment betaHost;

  private FfmCublasBinding(Symbols symbols, Arena arena, MemorySegment handle, String version) {
    super("cuBLAS " + version + " through FFM (" + symbols.library() + ")");
    this.symbols = symbols;
    this.arena = arena;
    this.handle = handle;
    this.alphaHost = arena.allocate(JAVA_FLOAT);
    this.betaHost = arena.allocate(JAVA_FLOAT);
  }

  /**
   * Creates a handle ({@code cublasCreate_v2}) on the CUDA context current on this thread and
   * reads its version ({@code cublasGetVersion_v2}).
   *
   * @throws CrosscoderException when cuBLAS refuses, e.g. {@code CUBLAS_STATUS_NOT_INITIALIZED}
   *     without a usable context or driver
   */
  static FfmCublasBinding create(Symbols symbols) {
    Arena arena = Arena.ofShared();
    MemorySegment handle = MemorySegment.NULL;
    try {
      MemorySegment out = arena.allocate(ADDRESS);
      int status = (int) symbols.create.invokeExact(out);
      CublasStatus.check(status, CublasFunctions.CREATE, "handle=&out");
      handle = out.get(ADDRESS, 0);
      MemorySegment version = arena.allocate(JAVA_INT);
      status = (int) symbols.getVersion.invokeExact(handle, version);
      CublasStatus.check(status, CublasFunctions.GET_VERSION, "handle=" + hex(handle));
      return new FfmCublasBinding(symbols, arena, handle, CublasEnums.version(version.get(JAVA_INT, 0)));
    } catch (Throwable t) {
      if (!handle.equals(MemorySegment.NULL)) {
        try {
          int ignored = (int) symbols.destroy.invokeExact(handle);
        } catch (Throwable suppressed) {
          t.addSuppressed(suppressed);
        }
      }
      arena.close();
      throw rethrow(t, CublasFunctions.CREATE);
    }
  }

  @Override
  void callSgemm(GemmCall call) {
    alphaHost.set(JAVA_FLOAT, 0, call.alpha());
    betaHost.set(JAVA_FLOAT, 0, call.beta());
    int status;
    try {
      status = (int) symbols.sgemm.invokeExact(handle,
          CublasEnums.operation(call.transA()), CublasEnums.operation(call.transB()), call.m(), call.n(), call.k(),
          alphaHost, MemorySegment.ofAddress(call.a()), call.lda(), MemorySegment.ofAddress(call.b()), call.ldb(),
          betaHost, MemorySegment.ofAddress(call.c()), call.ldc());
    } catch (Throwable t) {
      throw rethrow(t, CublasFunctions.SGEMM);
    }
    CublasStatus.check(status, CublasFunctions.SGEMM, call.describe());
  }

  @Override
  void callGemmBf16(GemmCall call) {
    // With CUBLAS_COMPUTE_32F the scalars are f32, whatever the matrices' types.
    alphaHost.set(JAVA_FLOAT, 0, call.alpha());
    betaHost.set(JAVA_FLOAT, 0, call.beta());
    int status;
    try {
      status = (int) symbols.gemmEx.invokeExact(handle,
          CublasEnums.operation(call.transA()), CublasEnums.operation(call.transB()), call.m(), call.n(), call.k(),
          alphaHost,
          MemorySegment.ofAddress(call.a()), CublasEnums.CUDA_R_16BF, call.lda(),
          MemorySegment.ofAddress(call.b()), CublasEnums.CUDA_R_16BF, call.ldb(),
          betaHost,
          MemorySegment.ofAddress(call.c()), CublasEnums.CUDA_R_32F, call.ldc(),
          CublasEnums.CUBLAS_COMPUTE_32F, CublasEnums.CUBLAS_GEMM_DEFAULT);
    } catch (Throwable t) {
      throw rethrow(t, CublasFunctions.GEMM_EX);
    }
    CublasStatus.check(status, CublasFunctions.GEMM_EX, call.describe()
        + ", Atype=CUDA_R_16BF, Btype=CUDA_R_16BF, Ctype=CUDA_R_32F, computeType=CUBLAS_COMPUTE_32F,"
        + " algo=CUBLAS_GEMM_DEFAULT");
  }

  @Override
  void callSetMathMode(int mode, String arguments) {
    int status;
    try {
      status = (int) symbols.setMathMode.invokeExact(handle, mode);
    } catch (Throwable t) {
      throw rethrow(t, CublasFunctions.SET_MATH_MODE);
    }
    CublasStatus.check(status, CublasFunctions.SET_MATH_MODE, arguments);
  }

  /** Destroys the handle, then frees the scalars' arena. */
  @Override
  void callDestroy() {
    try {
      int status = (int) symbols.destroy.invokeExact(handle);
      CublasStatus.check(status, CublasFunctions.DESTROY, "handle=" + hex(handle));
    } catch (Throwable t) {
      throw rethrow(t, CublasFunctions.DESTROY);
    } finally {
      arena.close();
    }
  }

  private static String hex(MemorySegment address) {
    return "0x" + Long.toHexString(address.address());
  }

  /** Unchecked throwables pass through; anything else (none expected from a downcall) is wrapped. */
  private static RuntimeException rethrow(Throwable t, String call) {
    if (t instanceof RuntimeException r) {
      return r;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new CrosscoderException(call + " failed: " + t, t);
  }
}
