package io.crosscoder.cuda.nvrtc;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.crosscoder.CrosscoderException;
import io.crosscoder.cuda.fake.CPrototypes;
import io.crosscoder.cuda.fake.FakeLibraries;
import io.crosscoder.cuda.nativelib.NativeLibrary;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NvrtcTest {

  /** nvrtc.h's prototypes (as NVIDIA's cuda-python reference documents them). */
  private static final String NVRTC_H = """
      nvrtcResult nvrtcVersion(int *major, int *minor);
      nvrtcResult nvrtcCreateProgram(nvrtcProgram *prog, const char *src, const char *name,
          int numHeaders, const char * const *headers, const char * const *includeNames);
      nvrtcResult nvrtcCompileProgram(nvrtcProgram prog, int numOptions, const char * const *options);
      nvrtcResult nvrtcGetPTXSize(nvrtcProgram prog, size_t *ptxSizeRet);
      nvrtcResult nvrtcGetPTX(nvrtcProgram prog, char *ptx);
      nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram prog, size_t *logSizeRet);
      nvrtcResult nvrtcGetProgramLog(nvrtcProgram prog, char *log);
      nvrtcResult nvrtcDestroyProgram(nvrtcProgram *prog);
      """;

  @Test
  void loadIsEmptyHereWithAReasonNamingEachLibrary() {
    assumeFalse(Nvrtc.load().isPresent(), () -> "NVRTC is installed here: " + Nvrtc.load().get());
    assertThat(Nvrtc.whyNot())
        .startsWith("no NVRTC: libnvrtc.so.13: ")
        .contains("; libnvrtc.so.12: ", "LD_LIBRARY_PATH")
        .doesNotContain("\n");
  }

  @Test
  void probeOfEmptyDirectoriesNamesWhereItLooked(@TempDir Path empty) {
    Nvrtc.Probe probe = Nvrtc.probe(List.of("libnvrtc-missing.so.99"), List.of(empty));
    assertThat(probe.nvrtc()).isNull();
    assertThat(probe.whyNot()).startsWith("no NVRTC: libnvrtc-missing.so.99: not found (dynamic loader:"
        + " libnvrtc-missing.so.99: cannot open shared object file: No such file or directory; looked in "
        + empty + ")");
  }

  @Test
  void descriptorsAreTheHeaderPrototypes() {
    Map<String, FunctionDescriptor> expected = CPrototypes.parse(NVRTC_H);
    assertThat(Nvrtc.DESCRIPTORS).containsExactlyEntriesOf(expected);
  }

  @Test
  void namesResults() {
    // nvrtcResult values from NVIDIA's cuda-python reference.
    assertThat(NvrtcResult.name(0)).isEqualTo("NVRTC_SUCCESS");
    assertThat(NvrtcResult.name(1)).isEqualTo("NVRTC_ERROR_OUT_OF_MEMORY");
    assertThat(NvrtcResult.name(5)).isEqualTo("NVRTC_ERROR_INVALID_OPTION");
    assertThat(NvrtcResult.name(6)).isEqualTo("NVRTC_ERROR_COMPILATION");
    assertThat(NvrtcResult.name(7)).isEqualTo("NVRTC_ERROR_BUILTIN_OPERATION_FAILURE");
    assertThat(NvrtcResult.name(11)).isEqualTo("NVRTC_ERROR_INTERNAL_ERROR");
    assertThat(NvrtcResult.name(12)).isEqualTo("NVRTC_ERROR_TIME_FILE_WRITE_FAILED");
    assertThat(NvrtcResult.name(99)).isEqualTo("unknown nvrtcResult 99");
    assertThat(NvrtcResult.name(-3)).isEqualTo("unknown nvrtcResult -3");
  }

  @Test
  void compilesThroughTheFakeAndAlwaysDestroysTheProgram(@TempDir Path dir) throws Throwable {
    assumeTrue(FakeLibraries.unavailable().isEmpty(), () -> FakeLibraries.unavailable().orElse(""));
    FakeLibraries.build("fake_nvrtc.c", dir, "libfakenvrtc.so", null);
    NativeLibrary library = NativeLibrary.find("libfakenvrtc.so", List.of(dir)).library().orElseThrow();
    Nvrtc nvrtc = Nvrtc.bind(library);
    MethodHandle live = FakeLibraries.function(
        SymbolLookup.libraryLookup(dir.resolve("libfakenvrtc.so"), Arena.global()),
        "fake_live_programs", FunctionDescriptor.of(JAVA_INT));

    assertThat(nvrtc.version()).isEqualTo("13.0");
    assertThat(nvrtc.description())
        .isEqualTo("NVRTC 13.0 through FFM (libfakenvrtc.so at " + dir.resolve("libfakenvrtc.so") + ")");

    String source = "extern \"C\" __global__ void twice(float* x) { x[threadIdx.x] *= 2; }\n";
    assertThat(nvrtc.compileToPtx(source, "twice.cu", List.of("--gpu-architecture=compute_90", "-lineinfo")))
        .isEqualTo("// PTX of twice.cu\n// options: --gpu-architecture=compute_90 -lineinfo\n" + source);
    assertThat(nvrtc.compileToPtx(source, "bare.cu", List.of()))
        .isEqualTo("// PTX of bare.cu\n// options:\n" + source);
    assertThat((int) live.invokeExact()).isZero();

    assertThatThrownBy(() -> nvrtc.compileToPtx("#error no kernels here\n", "broken.cu", List.of("-lineinfo")))
        .isInstanceOf(CrosscoderException.class)
        .hasMessage("nvrtcCompileProgram of broken.cu with options [-lineinfo] failed:"
            + " NVRTC_ERROR_COMPILATION (6)\nbroken.cu(1): error: no kernels here");
    assertThat((int) live.invokeExact()).isZero();

    assertThatThrownBy(() -> nvrtc.compileToPtx(source, "opts.cu", List.of("arch=sm_90")))
        .isInstanceOf(CrosscoderException.class)
        .hasMessageStartingWith("nvrtcCompileProgram of opts.cu with options [arch=sm_90] failed:"
            + " NVRTC_ERROR_INVALID_OPTION (5)");
    assertThat((int) live.invokeExact()).isZero();
  }
}
