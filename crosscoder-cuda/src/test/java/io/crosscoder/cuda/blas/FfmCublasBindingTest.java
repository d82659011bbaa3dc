package io.crosscoder.cuda.blas;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.crosscoder.CrosscoderException;
import io.crosscoder.cuda.fake.FakeLibraries;
import io.crosscoder.cuda.nativelib.NativeLibrary;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.List;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link FfmCublasBinding} against the host-memory stand-in for libcublas built from
 * {@code fake_cublas.c} (under its own soname, so the loader tests never see it). The fake treats
 * device addresses as host addresses, so the products are checked against an f64 loop here.
 */
class FfmCublasBindingTest {
  @TempDir static Path dir;
  private static FfmCublasBinding.Symbols symbols;
  private static NativeLibrary library;
  private static MethodHandle lastCall;
  private static MethodHandle lastMathMode;
  private static MethodHandle failNext;
  private static MethodHandle destroys;

  @BeforeAll
  static void buildFake() throws Exception {
    assumeTrue(FakeLibraries.unavailable().isEmpty(), () -> FakeLibraries.unavailable().orElse(""));
    FakeLibraries.build("fake_cublas.c", dir, "libfakecublas.so", null, "FAKE_VERSION=130002");
    library = NativeLibrary.find("libfakecublas.so", List.of(dir)).library().orElseThrow();
    symbols = FfmCublasBinding.Symbols.bind(library);
    SymbolLookup fake = SymbolLookup.libraryLookup(dir.resolve("libfakecublas.so"), Arena.global());
    lastCall = FakeLibraries.function(fake, "fake_last_call", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    lastMathMode = FakeLibraries.function(fake, "fake_last_math_mode", FunctionDescriptor.of(JAVA_INT));
    failNext = FakeLibraries.function(fake, "fake_fail_next", FunctionDescriptor.ofVoid(JAVA_INT));
    destroys = FakeLibraries.function(fake, "fake_destroys", FunctionDescriptor.of(JAVA_INT));
  }

  private static int[] lastCall() throws Throwable {
    int[] v = new int[13];
    for (int i = 0; i < v.length; i++) {
      v[i] = (int) lastCall.invokeExact(i);
    }
    return v;
  }

  @ParameterizedTest(name = "transA={0} transB={1} beta={2}")
  @CsvSource({"false,false,0", "false,true,-0.5", "true,false,0.25", "true,true,0"})
  void sgemmPassesEveryArgumentThrough(boolean ta, boolean tb, float beta) throws Throwable {
    int m = 3, n = 4, k = 5;
    // Padded leading dimensions, so that swapped lda/ldb or m/n would read the wrong elements.
    int lda = (ta ? k : m) + 2, ldb = (tb ? n : k) + 1, ldc = m + 3;
    float alpha = 1.5f;
    float[] a = GemmOracle.values(lda * (ta ? m : k), 1);
    float[] b = GemmOracle.values(ldb * (tb ? k : n), 2);
    float[] c = GemmOracle.values(ldc * n, 3);
    if (beta == 0) {
      c[0] = Float.NaN; // BLAS: C is not read when beta == 0.
    }
    double[] expected = GemmOracle.gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    try (Arena arena = Arena.ofConfined(); FfmCublasBinding blas = FfmCublasBinding.create(symbols)) {
      MemorySegment da = arena.allocateFrom(JAVA_FLOAT, a);
      MemorySegment db = arena.allocateFrom(JAVA_FLOAT, b);
      MemorySegment dc = arena.allocateFrom(JAVA_FLOAT, c);
      blas.sgemm(ta, tb, m, n, k, alpha, da.address(), lda, db.address(), ldb, beta, dc.address(), ldc);
      float[] got = dc.toArray(JAVA_FLOAT);
      for (int i = 0; i < got.length; i++) {
        // Multiples of 1/8 with k = 5: every partial sum is exact in f32.
        assertThat(got[i]).as("C[%d]", i).isEqualTo((float) expected[i]);
      }
      assertThat(lastCall()).startsWith(ta ? 1 : 0, tb ? 1 : 0, m, n, k, lda, ldb, ldc);
    }
  }

  @Test
  void gemmBf16SendsBf16InputsF32OutputCompute32fAndTheDefaultAlgorithm() throws Throwable {
    int m = 4, n = 2, k = 3, lda = k, ldb = k, ldc = m;
    float[] a = GemmOracle.values(k * m, 4); // transposed: stored k x m
    float[] b = GemmOracle.values(k * n, 5);
    float[] c = GemmOracle.values(m * n, 6);
    double[] expected = GemmOracle.gemm(true, false, m, n, k, -2, a, lda, b, ldb, 1, c, ldc);
    try (Arena arena = Arena.ofConfined(); FfmCublasBinding blas = FfmCublasBinding.create(symbols)) {
      MemorySegment da = arena.allocate(JAVA_SHORT, a.length);
      MemorySegment db = arena.allocate(JAVA_SHORT, b.length);
      for (int i = 0; i < a.length; i++) {
        da.setAtIndex(JAVA_SHORT, i, GemmOracle.bf16(a[i]));
      }
      for (int i = 0; i < b.length; i++) {
        db.setAtIndex(JAVA_SHORT, i, GemmOracle.bf16(b[i]));
      }
      MemorySegment dc = arena.allocateFrom(JAVA_FLOAT, c);
      blas.gemmBf16(true, false, m, n, k, -2f, da.address(), lda, db.address(), ldb, 1f, dc.address(), ldc);
      float[] got = dc.toArray(JAVA_FLOAT);
      for (int i = 0; i < got.length; i++) {
        assertThat(got[i]).as("C[%d]", i).isEqualTo((float) expected[i]);
      }
      // cudaDataType CUDA_R_16BF = 14, CUDA_R_32F = 0; CUBLAS_COMPUTE_32F = 68; CUBLAS_GEMM_DEFAULT = -1.
      assertThat(lastCall()).containsExactly(1, 0, m, n, k, lda, ldb, ldc, 14, 14, 0, 68, -1);
    }
  }

  @Test
  void tf32SwitchesTheMathMode() throws Throwable {
    try (FfmCublasBinding blas = FfmCublasBinding.create(symbols)) {
      blas.setTf32(true);
      assertThat((int) lastMathMode.invokeExact()).isEqualTo(3); // CUBLAS_TF32_TENSOR_OP_MATH
      blas.setTf32(false);
      assertThat((int) lastMathMode.invokeExact()).isEqualTo(0); // CUBLAS_DEFAULT_MATH
    }
  }

  @Test
  void describesVersionAndLibrary() {
    try (FfmCublasBinding blas = FfmCublasBinding.create(symbols)) {
      assertThat(blas.description())
          .isEqualTo("cuBLAS 13.0.2 through FFM (libfakecublas.so at " + dir.resolve("libfakecublas.so") + ")");
    }
    assertThat(symbols.propertyVersion()).isEqualTo("13.0.2");
  }

  @Test
  void aFailedCallNamesTheFunctionTheStatusAndTheArguments() throws Throwable {
    try (Arena arena = Arena.ofConfined(); FfmCublasBinding blas = FfmCublasBinding.create(symbols)) {
      MemorySegment buffer = arena.allocate(JAVA_FLOAT, 16);
      failNext.invokeExact(13);
      assertThatThrownBy(() -> blas.sgemm(false, true, 2, 3, 1, 1f, buffer.address(), 2,
          buffer.address(), 3, 0f, buffer.address(), 2))
          .isInstanceOf(CrosscoderException.class)
          .hasMessageStartingWith("cublasSgemm_v2(transA=N, transB=T, m=2, n=3, k=1, alpha=1.0, a=0x"
              + Long.toHexString(buffer.address()) + ", lda=2,")
          .hasMessageContaining("ldc=2) failed: CUBLAS_STATUS_EXECUTION_FAILED (13)");
      failNext.invokeExact(15);
      assertThatThrownBy(() -> blas.gemmBf16(false, false, 1, 1, 1, 1f, buffer.address(), 1,
          buffer.address(), 1, 0f, buffer.address(), 1))
          .hasMessageContaining("cublasGemmEx(")
          .hasMessageContaining("Atype=CUDA_R_16BF, Btype=CUDA_R_16BF, Ctype=CUDA_R_32F")
          .hasMessageContaining("failed: CUBLAS_STATUS_NOT_SUPPORTED (15)");
    }
  }

  @Test
  void aRefusedHandleIsReported() throws Throwable {
    failNext.invokeExact(1);
    assertThatThrownBy(() -> FfmCublasBinding.create(symbols))
        .isInstanceOf(CrosscoderException.class)
        .hasMessageStartingWith("cublasCreate_v2(handle=&out) failed: CUBLAS_STATUS_NOT_INITIALIZED (1)");
  }

  @Test
  void invalidShapesAreRefusedBeforeTheCall() throws Throwable {
    try (Arena arena = Arena.ofConfined(); FfmCublasBinding blas = FfmCublasBinding.create(symbols)) {
      MemorySegment one = arena.allocate(JAVA_FLOAT);
      blas.sgemm(false, false, 1, 1, 1, 0f, 0, 1, 0, 1, 0f, one.address(), 1);
      int[] before = lastCall();
      assertThatThrownBy(() -> blas.sgemm(false, false, 7, 2, 2, 1f, 0x40, 6, 0x40, 2, 0f, 0x40, 7))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageEndingWith("lda must be >= max(1, m) = 7");
      assertThat(lastCall()).containsExactly(before);
    }
  }

  @Test
  void closeDestroysOnceAndLaterCallsAreRefused() throws Throwable {
    FfmCublasBinding blas = FfmCublasBinding.create(symbols);
    int before = (int) destroys.invokeExact();
    blas.close();
    blas.close();
    assertThat((int) destroys.invokeExact()).isEqualTo(before + 1);
    assertThatThrownBy(() -> blas.setTf32(true))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
    assertThatThrownBy(() -> blas.sgemm(false, false, 1, 1, 1, 1f, 8, 1, 8, 1, 0f, 8, 1))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void aLibraryWithoutTheSymbolsIsRefusedNamingTheFirstMissingOne() throws Exception {
    FakeLibraries.build("fake_nvrtc.c", dir.resolve("nvrtc"), "libnotcublas.so", null);
    NativeLibrary other = NativeLibrary.find("libnotcublas.so", List.of(dir.resolve("nvrtc"))).library().orElseThrow();
    assertThatThrownBy(() -> FfmCublasBinding.Symbols.bind(other))
        .isInstanceOf(NoSuchElementException.class)
        .hasMessage("libnotcublas.so at " + dir.resolve("nvrtc").resolve("libnotcublas.so")
            + " lacks the symbol cublasCreate_v2");
  }
}
