package io.crosscoder.cuda.driver;

import static io.crosscoder.cuda.driver.Kernel.Param.F32;
import static io.crosscoder.cuda.driver.Kernel.Param.I32;
import static io.crosscoder.cuda.driver.Kernel.Param.PTR;
import static io.crosscoder.cuda.driver.Kernel.Param.U32;
import static io.crosscoder.cuda.driver.Kernel.Param.U64;

import java.util.List;

/**
 * The kernels of {@code crosscoder_kernels.cu} and their parameter lists, in order. This is the
 * Java half of the contract documented in {@code src/main/cuda/README.md}: {@link
 * CudaContext#launch} checks every argument against it before a launch, and a test checks it
 * against the {@code .entry} directives of the PTX, so a kernel and its caller cannot drift apart
 * unnoticed.
 */
public enum Kernel {
  FILL("cc_fill_f32", PTR, U64, F32),
  SCALE("cc_scale_f32", PTR, U64, F32),
  AXPY("cc_axpy_f32", PTR, PTR, U64, F32),
  ADD("cc_add_f32", PTR, PTR, PTR, U64),
  SUBTRACT("cc_sub_f32", PTR, PTR, PTR, U64),
  MULTIPLY("cc_mul_f32", PTR, PTR, PTR, U64),
  RELU_BACKWARD("cc_relu_backward_f32", PTR, PTR, PTR, U64),
  F32_TO_BF16("cc_f32_to_bf16", PTR, PTR, U64),
  BF16_TO_F32("cc_bf16_to_f32", PTR, PTR, U64),
  ADAM("cc_adam_f32", PTR, PTR, PTR, PTR, U64, F32, F32, F32, F32, F32),
  SCALE_MATRIX("cc_scale_matrix_f32", PTR, U32, U32, U32, F32),
  BIAS_ADD("cc_bias_add_f32", PTR, PTR, PTR, U32, U32, I32),
  ROW_NORMS("cc_row_norms_f32", PTR, U32, U32, U32, PTR),
  COLUMN_SUMS("cc_column_sums_f32", PTR, U32, U32, PTR),
  BLOCK_SUMS("cc_block_sums_f32", PTR, U64, I32, PTR),
  SUM_F64("cc_sum_f64", PTR, U64, PTR),
  CSR_CHECK("cc_csr_check", PTR, PTR, U32, U32, PTR),
  SPMM("cc_spmm_f32", PTR, PTR, PTR, PTR, PTR, U32, U32, F32, F32),
  SPMM_TRANSPOSED("cc_spmm_t_f32", PTR, PTR, PTR, PTR, PTR, U32, U32, F32),
  COUNT_NONZEROS("cc_count_nonzeros", PTR, U32, U32, PTR),
  COMPRESS_ROWS("cc_compress_rows", PTR, U32, U32, PTR, PTR, PTR),
  CSR_TO_DENSE("cc_csr_to_dense", PTR, PTR, PTR, PTR, U32, U32),
  ROW_TOP_K("cc_row_topk", PTR, U32, U32, U32, U32, PTR, PTR, PTR),
  RADIX_HISTOGRAM("cc_radix_histogram", PTR, U64, U64, U32, PTR),
  BATCH_TOP_K_MASK("cc_batch_topk_mask", PTR, PTR, U64, U64),
  PAIR_SEGMENTS("cc_pair_segments", PTR, I32, PTR, I32, U32, U32, U32, PTR, PTR, PTR),
  RMS_NORM("cc_rms_norm_f32", PTR, PTR, PTR, U32, U32, F32),
  RMS_NORM_WARP("cc_rms_norm_warp_f32", PTR, PTR, PTR, U32, U32, F32),
  ROTARY("cc_rotary_f32", PTR, PTR, PTR, PTR, U32, U32, U32, U32),
  CAUSAL_SOFTMAX("cc_causal_softmax_f32", PTR, U32, U32, U32, U32, I32),
  SILU_MULTIPLY("cc_silu_mul_f32", PTR, PTR, PTR, U64);

  /** A kernel parameter's C type, as the launcher passes it and as PTX declares it. */
  public enum Param {
    /** A device address: a {@link DevicePointer} or a raw {@code long} (0 for null). */
    PTR("u64"),
    /** {@code unsigned long long}: a {@code long}. */
    U64("u64"),
    /** {@code unsigned int}: an {@code int} holding the 32 bits. */
    U32("u32"),
    /** {@code int}. */
    I32("u32"),
    /** {@code float}. */
    F32("f32");

    private final String ptx;

    Param(String ptx) {
      this.ptx = ptx;
    }

    /** The PTX parameter type ({@code .u64}, {@code .u32}, {@code .f32}) without the dot. */
    public String ptxType() {
      return ptx;
    }
  }

  private final String symbol;
  private final List<Param> params;

  Kernel(String symbol, Param... params) {
    this.symbol = symbol;
    this.params = List.of(params);
  }

  /** The {@code extern "C"} name in the module. */
  public String symbol() {
    return symbol;
  }

  /** The parameters in order. */
  public List<Param> params() {
    return params;
  }

  /**
   * Checks that {@code args} fit {@link #params()}: a {@link DevicePointer} or {@code Long} for
   * {@link Param#PTR}, a {@code Long} for {@link Param#U64}, an {@code Integer} for {@link
   * Param#U32} and {@link Param#I32}, a {@code Float} for {@link Param#F32}.
   *
   * @throws IllegalArgumentException naming the kernel and the parameter otherwise
   */
  public void checkArguments(Object... args) {
    if (args.length != params.size()) {
      throw new IllegalArgumentException(symbol + " takes " + params.size() + " arguments, got " + args.length);
    }
    for (int i = 0; i < args.length; i++) {
      Object a = args[i];
      boolean ok = switch (params.get(i)) {
        case PTR -> a instanceof DevicePointer || a instanceof Long;
        case U64 -> a instanceof Long;
        case U32, I32 -> a instanceof Integer;
        case F32 -> a instanceof Float;
      };
      if (!ok) {
        throw new IllegalArgumentException(symbol + " parameter " + i + " is " + params.get(i) + ", got "
            + (a == null ? "null" : a.getClass().getSimpleName()));
      }
    }
  }
}
