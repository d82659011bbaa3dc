package io.crosscoder.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The kernel module the jar carries against the contract in src/main/cuda/README.md: every kernel
 * present with the parameter widths the Java launcher passes, in the PTX (where the build had nvcc)
 * and in the CUDA source the NVRTC fallback compiles (always), and a PTX old enough for the drivers
 * the backend supports.
 */
class PtxModuleTest {
  private static final String PTX = "/io/crosscoder/cuda/crosscoder_kernels.ptx";
  private static final String SOURCE = "/io/crosscoder/cuda/crosscoder_kernels.cu";

  /**
   * The contract's signatures, copied from README.md's tables (ptr, u64, u32, i32, f32). The
   * launcher's own kernel enum is to replace this table.
   */
  private static final Map<String, String> CONTRACT = new LinkedHashMap<>();

  static {
    // element-wise
    CONTRACT.put("cc_fill_f32", "ptr x, u64 n, f32 v");
    CONTRACT.put("cc_scale_f32", "ptr x, u64 n, f32 alpha");
    CONTRACT.put("cc_axpy_f32", "ptr x, ptr y, u64 n, f32 alpha");
    CONTRACT.put("cc_add_f32", "ptr x, ptr y, ptr out, u64 n");
    CONTRACT.put("cc_sub_f32", "ptr x, ptr y, ptr out, u64 n");
    CONTRACT.put("cc_mul_f32", "ptr x, ptr y, ptr out, u64 n");
    CONTRACT.put("cc_relu_backward_f32", "ptr grad, ptr act, ptr out, u64 n");
    CONTRACT.put("cc_f32_to_bf16", "ptr src, ptr dst, u64 n");
    CONTRACT.put("cc_bf16_to_f32", "ptr src, ptr dst, u64 n");
    CONTRACT.put("cc_adam_f32",
        "ptr p, ptr g, ptr m, ptr v, u64 n, f32 beta1, f32 beta2, f32 stepSize, f32 rsqrtBc2, f32 eps");
    // matrices
    CONTRACT.put("cc_scale_matrix_f32", "ptr c, u32 rows, u32 cols, u32 ld, f32 beta");
    CONTRACT.put("cc_bias_add_f32", "ptr x, ptr bias, ptr out, u32 rows, u32 cols, i32 relu");
    CONTRACT.put("cc_row_norms_f32", "ptr x, u32 rows, u32 cols, u32 ld, ptr out");
    CONTRACT.put("cc_column_sums_f32", "ptr x, u32 rows, u32 cols, ptr out");
    CONTRACT.put("cc_block_sums_f32", "ptr x, u64 n, i32 squares, ptr partial");
    CONTRACT.put("cc_sum_f64", "ptr partial, u64 count, ptr out");
    // sparse rows
    CONTRACT.put("cc_csr_check", "ptr rowStart, ptr colIndex, u32 rows, u32 cols, ptr error");
    CONTRACT.put("cc_spmm_f32",
        "ptr rowStart, ptr colIndex, ptr values, ptr dense, ptr out, u32 rows, u32 n, f32 alpha, f32 beta");
    CONTRACT.put("cc_spmm_t_f32",
        "ptr rowStart, ptr colIndex, ptr values, ptr dense, ptr out, u32 rows, u32 n, f32 alpha");
    CONTRACT.put("cc_count_nonzeros", "ptr x, u32 rows, u32 cols, ptr counts");
    CONTRACT.put("cc_compress_rows", "ptr x, u32 rows, u32 cols, ptr rowStart, ptr colIndex, ptr values");
    CONTRACT.put("cc_csr_to_dense", "ptr rowStart, ptr colIndex, ptr values, ptr out, u32 rows, u32 cols");
    // selection
    CONTRACT.put("cc_row_topk",
        "ptr x, u32 rows, u32 cols, u32 k, u32 kpad, ptr values, ptr indices, ptr scratch");
    CONTRACT.put("cc_radix_histogram", "ptr scores, u64 n, u64 prefix, u32 shift, ptr hist");
    CONTRACT.put("cc_batch_topk_mask", "ptr scores, ptr x, u64 n, u64 threshold");
    // pair statistics
    CONTRACT.put("cc_pair_segments", "ptr a, i32 aType, ptr b, i32 bType, u32 cols, u32 segLen, "
        + "u32 segsPerRow, ptr sums, ptr maxAbs, ptr counts");
    // transformer kernels
    CONTRACT.put("cc_rms_norm_f32", "ptr x, ptr weight, ptr out, u32 rows, u32 cols, f32 eps");
    CONTRACT.put("cc_rms_norm_warp_f32", "ptr x, ptr weight, ptr out, u32 rows, u32 cols, f32 eps");
    CONTRACT.put("cc_rotary_f32",
        "ptr x, ptr positions, ptr cosTable, ptr sinTable, u32 rows, u32 heads, u32 half, u32 tableRows");
    CONTRACT.put("cc_causal_softmax_f32", "ptr x, u32 rows, u32 cols, u32 ld, u32 firstQuery, i32 window");
    CONTRACT.put("cc_silu_mul_f32", "ptr gate, ptr up, ptr out, u64 n");
  }

  /** The PTX widths the contract's parameters must have: pointers and u64 64 bits, ints 32. */
  private static Map<String, List<String>> expectedWidths() {
    Map<String, List<String>> out = new LinkedHashMap<>();
    CONTRACT.forEach((name, params) -> {
      List<String> widths = new ArrayList<>();
      for (String p : params.split(",")) {
        String type = p.strip().split("\\s+")[0];
        widths.add(switch (type) {
          case "ptr", "u64" -> "u64";
          case "u32", "i32" -> "u32";
          case "f32" -> "f32";
          default -> throw new AssertionError("bad contract type " + type + " in " + name);
        });
      }
      out.put(name, widths);
    });
    return out;
  }

  /** Signedness does not change how a launcher passes an integer: .s32 is .u32's width. */
  private static Map<String, List<String>> widthsOnly(Map<String, List<String>> entries) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    entries.forEach((name, types) -> out.put(name, types.stream()
        .map(t -> switch (t) {
          case "s32", "b32" -> "u32";
          case "s64", "b64" -> "u64";
          default -> t;
        })
        .toList()));
    return out;
  }

  private static String resource(String path) throws IOException {
    try (InputStream in = PtxModuleTest.class.getResourceAsStream(path)) {
      return in == null ? null : new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static String ptxOrSkip() throws IOException {
    String ptx = resource(PTX);
    Assumptions.assumeTrue(ptx != null,
        "no " + PTX + " on the class path: this build had no nvcc (build-ptx.sh skipped the PTX)");
    return ptx;
  }

  @Test
  void ptxDeclaresEveryKernelOfTheContractWithItsParameterWidths() throws IOException {
    Map<String, List<String>> entries = PtxSignatures.entries(ptxOrSkip());
    assertThat(widthsOnly(entries)).containsExactlyInAnyOrderEntriesOf(expectedWidths());
  }

  /**
   * build-ptx.sh lowers the ISA to the lowest one ptxas accepts; with nvcc 13.0 that is 7.0 (CUDA
   * 11.0 drivers). The bound here is 7.8, what a CUDA 11.8 driver reads, so a newer nvcc that
   * needs a somewhat newer ISA still passes while a PTX only recent drivers can load does not.
   */
  @Test
  void ptxIsForSm75AndOldEnoughForCuda11Drivers() throws IOException {
    String ptx = ptxOrSkip();
    Matcher version = Pattern.compile("(?m)^\\s*\\.version\\s+(\\d+)\\.(\\d+)\\s*$").matcher(ptx);
    assertThat(version.find()).as(".version directive").isTrue();
    int major = Integer.parseInt(version.group(1));
    int minor = Integer.parseInt(version.group(2));
    assertThat(major * 10 + minor).as("PTX ISA %d.%d", major, minor).isBetween(70, 78);
    assertThat(ptx).containsPattern("(?m)^\\s*\\.target\\s+sm_75\\s*$");
    assertThat(ptx).containsPattern("(?m)^\\s*\\.address_size\\s+64\\s*$");
  }

  @Test
  void cudaSourceDeclaresEveryKernelOfTheContractWithItsParameterWidths() throws IOException {
    String source = resource(SOURCE);
    assertThat(source).as(SOURCE + " is copied into the jar with or without nvcc").isNotNull();
    assertThat(PtxSignatures.sourceKernels(source)).containsExactlyInAnyOrderEntriesOf(expectedWidths());
    // NVRTC compiles it without include paths.
    assertThat(source).doesNotContainPattern("(?m)^\\s*#\\s*include");
  }

  @Test
  void readsEntryParametersInEveryFormNvccWrites() {
    String ptx = """
        .version 7.0
        .target sm_75
        .address_size 64
        .func (.param .b32 func_retval0) helper(.param .b32 helper_param_0)
        { ret; }
        .visible .entry first(
        	.param .u64 first_param_0,
        	.param .u64 .ptr .global .align 4 first_param_1,
        	.param .u32 first_param_2,
        	.param .s32 first_param_3,
        	.param .f32 first_param_4,
        	.param .align 8 .b8 first_param_5[16]
        )
        .maxntid 256, 1, 1
        { ret; }
        .visible .entry none()
        { ret; }
        .entry hidden(.param .u64 hidden_param_0) { ret; }
        """;
    Map<String, List<String>> entries = PtxSignatures.entries(ptx);
    assertThat(entries).containsExactly(
        Map.entry("first", List.of("u64", "u64", "u32", "s32", "f32", "b8[16]")),
        Map.entry("none", List.of()));
  }

  @Test
  void readsKernelParameterWidthsOfCudaSource() {
    String cuda = """
        // extern "C" __global__ void commented(int a) {}
        /* extern "C" __global__ void alsoCommented(int a) {} */
        __device__ int helper(int a) { return a; }
        extern "C" __global__ void __launch_bounds__(CC_BLOCK) k(const float* x, u64 n,
            unsigned int m, int relu, float alpha, unsigned long long t, double* out, u32 shift) {}
        extern "C" __global__ void plain(void* p) {}
        """;
    assertThat(PtxSignatures.sourceKernels(cuda)).containsExactly(
        Map.entry("k", List.of("u64", "u64", "u32", "u32", "f32", "u64", "u64", "u32")),
        Map.entry("plain", List.of("u64")));
    assertThatThrownBy(() -> PtxSignatures.sourceKernels("extern \"C\" __global__ void bad(short s) {}"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("bad")
        .hasMessageContaining("short s");
  }
}
