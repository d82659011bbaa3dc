/*
 * crosscoder_kernels.cu: the single source of every GPU kernel of the crosscoder CUDA backend.
 *
 * The contract with the Java launcher (kernel names, parameter order and types, launch
 * configurations, numerics) is README.md beside this file; change both together, and the launcher
 * with them. build-ptx.sh compiles this file to one PTX module at build time (target sm_75, PTX ISA
 * lowered so that drivers from CUDA 11 on can JIT it); the jar also carries this source so that the
 * backend can compile it with NVRTC at run time where no PTX was built.
 *
 * Rules this file keeps:
 * - Pure device code: no #include, no host code, no toolkit headers, so NVRTC compiles it without
 *   include paths. BF16 and F16 are converted by bit manipulation (bit-exact, NaN payloads kept).
 * - IEEE numerics: built without --use_fast_math; where the contract fixes an f32 expression, the
 *   _rn intrinsics spell it so that the compiler cannot contract a multiply and an add into an FMA.
 * - Any grid size: element-wise kernels use grid-stride loops, per-row kernels stride over rows by
 *   gridDim.x, so a grid smaller than the work is still correct (only slower).
 * - 64-bit index arithmetic wherever rows * cols or n can pass 2^31.
 * - Every kernel is launched with blockDim.x = 256 (__launch_bounds__ says so); the block reductions
 *   and warp-row kernels need blockDim.x to be a multiple of 32, the shared-memory trees a power of two.
 * - __syncthreads() is only ever reached by all threads of a block: the loops around it run the same
 *   trip count in every thread (their bounds depend only on blockIdx, gridDim and kernel arguments).
 */

typedef unsigned long long u64;
typedef unsigned int u32;

#define CC_BLOCK 256
#define CC_FULL_MASK 0xffffffffu

// ------------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------------

/** Index of this thread in the grid, in 64 bits (blockIdx.x * blockDim.x can pass 2^32). */
__device__ __forceinline__ u64 cc_first_index() {
  return (u64)blockIdx.x * blockDim.x + threadIdx.x;
}

/** Number of threads in the grid: the step of a grid-stride loop. */
__device__ __forceinline__ u64 cc_grid_step() {
  return (u64)gridDim.x * blockDim.x;
}

/** True for a finite f32 (neither infinite nor NaN): the exponent field is not all ones. */
__device__ __forceinline__ bool cc_is_finite(float v) {
  return (__float_as_uint(v) & 0x7f800000u) != 0x7f800000u;
}

/**
 * IEEE binary16 bits to f32, bit-exact, written by hand so that it needs no header and behaves the
 * same under nvcc and NVRTC. NaN payloads are kept (shifted into the top of the f32 significand), as
 * Java's Float.float16ToFloat does, so that "changed" (bit patterns differ) agrees with the CPU.
 */
__device__ __forceinline__ float cc_f16_to_f32(unsigned short h) {
  const u32 bits = h;
  const u32 sign = (bits & 0x8000u) << 16;
  const u32 exponent = (bits >> 10) & 0x1fu;
  const u32 mantissa = bits & 0x3ffu;
  if (exponent == 0x1fu) {
    return __uint_as_float(sign | 0x7f800000u | (mantissa << 13));  // infinity or NaN
  }
  if (exponent != 0u) {
    // Normal: rebias 15 -> 127.
    return __uint_as_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  }
  // Zero or subnormal: mantissa * 2^-24; both factors and the product are exact in f32.
  return __uint_as_float(sign | __float_as_uint(__fmul_rn((float)mantissa, 5.9604644775390625e-08f)));
}

/** BF16 bits to f32: the upper half of the f32 pattern, exact. */
__device__ __forceinline__ float cc_bf16_to_f32_bits(unsigned short h) {
  return __uint_as_float(((u32)h) << 16);
}

/**
 * Element i of a buffer holding plain floats of the given dtype code (0 = F32, 1 = F16, 2 = BF16),
 * widened exactly to f32. Another code reads as NaN (the host validates codes; NaN makes a mistake
 * visible as non-finite pairs rather than as plausible numbers).
 */
__device__ __forceinline__ float cc_load_widened(const void* p, int dtype, u64 i) {
  switch (dtype) {
    case 0:
      return ((const float*)p)[i];
    case 1:
      return cc_f16_to_f32(((const unsigned short*)p)[i]);
    case 2:
      return cc_bf16_to_f32_bits(((const unsigned short*)p)[i]);
    default:
      return __uint_as_float(0x7fc00000u);
  }
}

/**
 * The order key of a float for top-k: Java's Float.compare order mapped onto unsigned integers.
 * NaN is first canonicalised to 0x7fc00000 (all NaNs compare equal in Java); then negative floats
 * have all bits flipped (a larger magnitude must give a smaller key) and non-negative floats get the
 * sign bit set (so they lie above every negative). Hence -0.0 (0x7fffffff) < +0.0 (0x80000000) and
 * NaN (0xffc00000) > +inf (0xff800000).
 */
__device__ __forceinline__ u32 cc_order_of(float v) {
  u32 u = __float_as_uint(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    u = 0x7fc00000u;
  }
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/** Inverse of cc_order_of (NaN comes back canonical). */
__device__ __forceinline__ float cc_float_of_order(u32 o) {
  return __uint_as_float((o & 0x80000000u) ? (o & 0x7fffffffu) : ~o);
}

/**
 * The 64-bit top-k key of the element at position p (p < 2^32): the order key in the high half,
 * 0xffffffff - p in the low half. Among equal floats the LOWER position gets the LARGER key, which
 * is the tie-break of the contract (lower index ranks higher); keys of distinct positions are
 * distinct, so "the k largest keys" is always exactly k elements. No real element has key 0 (the
 * smallest order key of a canonicalised float is that of -inf, 0x007fffff), so 0 pads sort buffers.
 */
__device__ __forceinline__ u64 cc_topk_key(float v, u32 p) {
  return ((u64)cc_order_of(v) << 32) | (u64)(0xffffffffu - p);
}

/**
 * Adds the keys of a warp to a shared-memory histogram: lanes with the same bin are counted by one
 * atomic from the lowest of them. Keys cluster (all zeros, or one exponent range, share the top
 * digits), and 32 shared atomics on one address serialise. All 32 lanes must call it together (a
 * warp-uniform loop), because of the full-mask __match_any_sync.
 */
__device__ __forceinline__ void cc_histogram_add_warp(u32* histogram, bool counted, u32 bin) {
  const u32 lane = threadIdx.x & 31u;
  const u32 peers = __match_any_sync(CC_FULL_MASK, counted ? bin : 256u);  // 256: not counted
  if (counted && (peers & ((1u << lane) - 1u)) == 0u) {
    atomicAdd(&histogram[bin], (u32)__popc(peers));
  }
}

__device__ __forceinline__ double cc_warp_sum_f64(double v) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    v += __shfl_down_sync(CC_FULL_MASK, v, offset);
  }
  return v;
}

__device__ __forceinline__ u32 cc_warp_sum_u32(u32 v) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    v += __shfl_down_sync(CC_FULL_MASK, v, offset);
  }
  return v;
}

/** Maximum over the warp of values that are never NaN (magnitudes of finite differences, or inf). */
__device__ __forceinline__ float cc_warp_max_f32(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const float o = __shfl_down_sync(CC_FULL_MASK, v, offset);
    v = o > v ? o : v;
  }
  return v;
}

/**
 * Sum over the block of one double per thread, in a fixed tree (shuffles within warps, then the
 * warp sums by warp 0), so the result is reproducible run to run. The result is valid in thread 0.
 * Every thread of the block must call it (it synchronises); it ends with a barrier so the caller may
 * call it again at once.
 */
__device__ double cc_block_sum_f64(double v) {
  __shared__ double warp_sums[32];
  const u32 lane = threadIdx.x & 31u;
  const u32 warp = threadIdx.x >> 5;
  v = cc_warp_sum_f64(v);
  if (lane == 0) {
    warp_sums[warp] = v;
  }
  __syncthreads();
  if (warp == 0) {
    v = lane < (blockDim.x >> 5) ? warp_sums[lane] : 0.0;
    v = cc_warp_sum_f64(v);
  }
  __syncthreads();
  return v;
}

/**
 * The larger of two floats with Java's Math.max treatment of NaN: a NaN on either side wins, as in
 * the CPU's row maximum (a NaN score would make the softmax row NaN through its own exponential
 * anyway; this keeps the intermediate the same too). Between -0.0 and +0.0 it keeps the first,
 * which no caller can tell apart (x - m and exp(x - m) are the same for either zero).
 */
__device__ __forceinline__ float cc_max_nan(float a, float b) {
  return (b > a || b != b) ? b : a;
}

/**
 * Sum over the warp, returned to every lane: a butterfly, in which both lanes of a pair add the
 * same two values, so every lane ends with the same bits.
 */
__device__ __forceinline__ double cc_warp_allsum_f64(double v) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    v += __shfl_xor_sync(CC_FULL_MASK, v, offset);
  }
  return v;
}

/** cc_max_nan over the warp, returned to every lane (a butterfly, as cc_warp_allsum_f64). */
__device__ __forceinline__ float cc_warp_allmax_f32(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    v = cc_max_nan(v, __shfl_xor_sync(CC_FULL_MASK, v, offset));
  }
  return v;
}

/**
 * Sum over the block of one double per thread, returned to EVERY thread: warp sums, then warp 0
 * adds those in a fixed order and publishes the total in shared memory. Every thread of the block
 * must call it. It may be called again at once, without a third barrier: a warp writes `partial`
 * in the next call only after passing this call's second barrier, which warp 0 reaches only after
 * reading `partial`; and warp 0 rewrites `total` only after the next call's first barrier, which
 * every thread reaches only after reading `total` here.
 */
__device__ double cc_block_allsum_f64(double v) {
  __shared__ double partial[32];
  __shared__ double total;
  const u32 lane = threadIdx.x & 31u;
  const u32 warp = threadIdx.x >> 5;
  v = cc_warp_sum_f64(v);
  if (lane == 0) {
    partial[warp] = v;
  }
  __syncthreads();
  if (warp == 0) {
    v = lane < (blockDim.x >> 5) ? partial[lane] : 0.0;
    v = cc_warp_sum_f64(v);
    if (lane == 0) {
      total = v;
    }
  }
  __syncthreads();
  return total;
}

/** cc_max_nan over the block, returned to every thread; the same barriers as cc_block_allsum_f64. */
__device__ float cc_block_allmax_f32(float v) {
  __shared__ float partial[32];
  __shared__ float total;
  const u32 lane = threadIdx.x & 31u;
  const u32 warp = threadIdx.x >> 5;
  v = cc_warp_allmax_f32(v);
  if (lane == 0) {
    partial[warp] = v;
  }
  __syncthreads();
  if (warp == 0) {
    v = lane < (blockDim.x >> 5) ? partial[lane] : __uint_as_float(0xff800000u);  // -inf: neutral
    v = cc_warp_allmax_f32(v);
    if (lane == 0) {
      total = v;
    }
  }
  __syncthreads();
  return total;
}

// ------------------------------------------------------------------------------------------------
// Element-wise kernels (grid-stride over i in [0, n))
// ------------------------------------------------------------------------------------------------

extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_fill_f32(float* x, u64 n, float v) {
  for (u64 i = cc_first_index(); i < n; i += cc_grid_step()) {
    x[i] = v;
  }
}

extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_scale_f32(float* x, u64 n, float alpha) {
  for (u64 i = cc_first_index(); i < n; i += cc_grid_step()) {
    x[i] = __fmul_rn(alpha, x[i]);
  }
}

/** y = alpha * x + y with one rounding (FMA), as the contract says. */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_axpy_f32(const float* x, float* y, u64 n, float alpha) {
  for (u64 i = cc_first_index(); i < n; i += cc_grid_step()) {
    y[i] = __fmaf_rn(alpha, x[i], y[i]);
  }
}

// out may be x or y: each element is read before it is written, by the same thread.
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_add_f32(const float* x, const float* y, float* out, u64 n) {
  for (u64 i = cc_first_index(); i < n; i += cc_grid_step()) {
    out[i] = __fadd_rn(x[i], y[i]);
  }
}

extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_sub_f32(const float* x, const float* y, float* out, u64 n) {
  for (u64 i = cc_first_index(); i < n; i += cc_grid_step()) {
    out[i] = __fsub_rn(x[i], y[i]);
  }
}

extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_mul_f32(const float* x, const float* y, float* out, u64 n) {
  for (u64 i = cc_first_index(); i < n; i += cc_grid_step()) {
    out[i] = __fmul_rn(x[i], y[i]);
  }
}

/** out = act > 0 ? grad : 0; a NaN activation is not > 0, so its gradient is 0. out may be grad. */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_relu_backward_f32(const float* grad, const float* act, float* out, u64 n) {
  for (u64 i = cc_first_index(); i < n; i += cc_grid_step()) {
    out[i] = act[i] > 0.0f ? grad[i] : 0.0f;
  }
}

/**
 * f32 -> bf16, round to nearest even: adding 0x7fff plus the lowest kept bit and truncating rounds
 * ties to the even neighbour; a carry into the exponent is the correct rounding up (finite values
 * beyond the bf16 maximum become infinity). NaN is kept a NaN (quiet bit set) with its sign and the
 * top of its payload, as FloatFormats.floatToBf16 does: rounding could otherwise carry it to infinity.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_f32_to_bf16(const float* src, unsigned short* dst, u64 n) {
  for (u64 i = cc_first_index(); i < n; i += cc_grid_step()) {
    const u32 bits = __float_as_uint(src[i]);
    u32 out;
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
      out = (bits >> 16) | 0x0040u;
    } else {
      out = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
    }
    dst[i] = (unsigned short)out;
  }
}

extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_bf16_to_f32(const unsigned short* src, float* dst, u64 n) {
  for (u64 i = cc_first_index(); i < n; i += cc_grid_step()) {
    dst[i] = cc_bf16_to_f32_bits(src[i]);
  }
}

/**
 * One Adam step in exactly the f32 arithmetic of the CPU backend (ScalarElementwise.adam), so that
 * the two agree bit for bit: every product and sum rounded on its own (no FMA), the square root
 * correctly rounded, the quotient correctly rounded. stepSize = lr / (1 - beta1^t) and rsqrtBc2 =
 * 1 / sqrt(1 - beta2^t) are computed by the host in f64 and rounded to f32 once per call.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_adam_f32(float* p, const float* g, float* m, float* v, u64 n,
    float beta1, float beta2, float stepSize, float rsqrtBc2, float eps) {
  const float c1 = __fsub_rn(1.0f, beta1);
  const float c2 = __fsub_rn(1.0f, beta2);
  for (u64 i = cc_first_index(); i < n; i += cc_grid_step()) {
    const float gi = g[i];
    const float mi = __fadd_rn(__fmul_rn(beta1, m[i]), __fmul_rn(c1, gi));
    const float vi = __fadd_rn(__fmul_rn(beta2, v[i]), __fmul_rn(__fmul_rn(gi, gi), c2));
    m[i] = mi;
    v[i] = vi;
    const float denom = __fadd_rn(__fmul_rn(__fsqrt_rn(vi), rsqrtBc2), eps);
    p[i] = __fsub_rn(p[i], __fdiv_rn(__fmul_rn(stepSize, mi), denom));
  }
}

// ------------------------------------------------------------------------------------------------
// Matrices
// ------------------------------------------------------------------------------------------------

/**
 * C = beta * C over the first cols columns of each row (leading dimension ld): the "beta" half of a
 * GEMM the library applies itself. beta == 0 writes zeros without reading C, as BLAS does, so NaN
 * or infinity in C does not survive. The padding columns [cols, ld) are never touched.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_scale_matrix_f32(float* c, u32 rows, u32 cols, u32 ld, float beta) {
  const u64 n = (u64)rows * cols;
  const bool narrow = n <= 0xffffffffull;  // 32-bit division is much cheaper than 64-bit
  for (u64 i = cc_first_index(); i < n; i += cc_grid_step()) {
    const u64 r = narrow ? (u64)((u32)i / cols) : i / cols;
    const u64 j = i - r * cols;
    const u64 at = r * ld + j;
    c[at] = beta == 0.0f ? 0.0f : __fmul_rn(beta, c[at]);
  }
}

/** out = x + bias (per column), then ReLU if asked; s > 0 is false for NaN, so ReLU never gives NaN. */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_bias_add_f32(const float* x, const float* bias, float* out, u32 rows, u32 cols, int relu) {
  const u64 n = (u64)rows * cols;
  const bool narrow = n <= 0xffffffffull;  // 32-bit remainder is much cheaper than 64-bit
  for (u64 i = cc_first_index(); i < n; i += cc_grid_step()) {
    const u32 c = narrow ? (u32)i % cols : (u32)(i % cols);
    const float s = __fadd_rn(x[i], bias[c]);
    out[i] = relu ? (s > 0.0f ? s : 0.0f) : s;
  }
}

/**
 * Euclidean norm of each row. Squares are formed and summed in f64 (a square of an f32 is exact in
 * f64, so summing in f64 loses nothing to overflow or to long rows), block-reduced in a fixed order,
 * and the square root is taken in f64 and rounded once to f32.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_row_norms_f32(const float* x, u32 rows, u32 cols, u32 ld, float* out) {
  for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* row = x + r * ld;
    double acc = 0.0;
    for (u64 c = threadIdx.x; c < cols; c += blockDim.x) {
      const double v = (double)row[c];
      acc += v * v;
    }
    acc = cc_block_sum_f64(acc);
    if (threadIdx.x == 0) {
      out[r] = __double2float_rn(__dsqrt_rn(acc));
    }
  }
}

/**
 * Column sums, one thread per column (adjacent threads read adjacent addresses of a row, so every
 * row is read coalesced). Runs of 256 rows are summed in f32 in row order, each run added into an
 * f64 total: the CPU backend's arrangement, so the two agree to f32 rounding of the runs.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_column_sums_f32(const float* x, u32 rows, u32 cols, float* out) {
  for (u64 c = cc_first_index(); c < cols; c += cc_grid_step()) {
    double total = 0.0;
    for (u64 r0 = 0; r0 < rows; r0 += 256u) {
      const u64 r1 = rows - r0 < 256u ? (u64)rows : r0 + 256u;
      float run = 0.0f;
      for (u64 r = r0; r < r1; r++) {
        run = __fadd_rn(run, x[r * cols + c]);
      }
      total += (double)run;
    }
    out[c] = __double2float_rn(total);
  }
}

/**
 * Partial sums for Kernels#sum and #sumOfSquares: block b sums elements [4096 b, 4096 (b + 1)) in
 * f32 (16 elements per thread in index order, then a tree in shared memory) and stores the f32 sum
 * widened to f64; cc_sum_f64 then adds the partials in f64. Squares are rounded before they are
 * added (no FMA), as the CPU's v * v then s + ... is.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_block_sums_f32(const float* x, u64 n, int squares, double* partial) {
  __shared__ float tree[CC_BLOCK];
  const u64 blocks = (n + 4095u) / 4096u;
  for (u64 b = blockIdx.x; b < blocks; b += gridDim.x) {
    const u64 begin = b * 4096u;
    const u64 end = n - begin < 4096u ? n : begin + 4096u;
    float acc = 0.0f;
    for (u64 i = begin + threadIdx.x; i < end; i += blockDim.x) {
      const float v = x[i];
      acc = __fadd_rn(acc, squares ? __fmul_rn(v, v) : v);
    }
    tree[threadIdx.x] = acc;
    __syncthreads();
    for (u32 half = blockDim.x >> 1; half > 0; half >>= 1) {
      if (threadIdx.x < half) {
        tree[threadIdx.x] = __fadd_rn(tree[threadIdx.x], tree[threadIdx.x + half]);
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      partial[b] = (double)tree[0];
    }
    // Not load-bearing today (only thread 0 writes tree[0], and the tree's first barrier separates
    // the other slots' last reads from their next writes), but it keeps each turn self-contained.
    __syncthreads();
  }
}

/** out[0] = sum of partial[0 .. count) in f64 (one block; other blocks of a larger grid do nothing). */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_sum_f64(const double* partial, u64 count, double* out) {
  if (blockIdx.x != 0) {
    return;  // the whole block leaves: no barrier is split
  }
  double acc = 0.0;
  for (u64 i = threadIdx.x; i < count; i += blockDim.x) {
    acc += partial[i];
  }
  acc = cc_block_sum_f64(acc);
  if (threadIdx.x == 0) {
    out[0] = acc;
  }
}

// ------------------------------------------------------------------------------------------------
// Sparse rows (CSR: rowStart i32[rows + 1], colIndex i32[nnz], values f32[nnz])
// ------------------------------------------------------------------------------------------------

/** First-error-wins reporting: only the thread that moves error[0] from 0 writes the details. */
__device__ __forceinline__ void cc_report(int* error, int kind, int a, int b) {
  if (atomicCAS(&error[0], 0, kind) == 0) {
    error[1] = a;
    error[2] = b;
  }
}

/**
 * Validates a CSR structure on the device before a kernel trusts it: a decreasing rowStart is
 * reported as (1, row, 0), a column index outside [0, cols) as (2, position, index). One warp per
 * row (warp w of block b owns rows b * warps + w, then strides by the grid's warp count).
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_csr_check(const int* rowStart, const int* colIndex, u32 rows, u32 cols, int* error) {
  const u32 lane = threadIdx.x & 31u;
  const u64 warps = blockDim.x >> 5;
  for (u64 r = (u64)blockIdx.x * warps + (threadIdx.x >> 5); r < rows; r += (u64)gridDim.x * warps) {
    const int start = rowStart[r];
    const int end = rowStart[r + 1];
    if (end < start) {
      if (lane == 0) {
        cc_report(error, 1, (int)r, 0);
      }
      continue;  // a decreasing row has no range to scan
    }
    for (long long t = (long long)start + lane; t < end; t += 32) {
      const int c = colIndex[t];
      if (c < 0 || (u32)c >= cols) {
        cc_report(error, 2, (int)t, c);
      }
    }
  }
}

/**
 * out(r, :) = alpha * sum_t values[t] * dense(colIndex[t], :) + beta * out(r, :): one block per
 * row, threads across the n output columns (so each dense row is read coalesced). The sum runs in
 * f32 in row order with one FMA per term. beta == 0 does not read out (NaN there does not survive).
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_spmm_f32(const int* rowStart, const int* colIndex, const float* values,
    const float* dense, float* out, u32 rows, u32 n, float alpha, float beta) {
  for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
    const int start = rowStart[r];
    const int end = rowStart[r + 1];
    for (u64 j = threadIdx.x; j < n; j += blockDim.x) {
      float s = 0.0f;
      for (int t = start; t < end; t++) {
        s = __fmaf_rn(values[t], dense[(u64)(u32)colIndex[t] * n + j], s);
      }
      const u64 at = r * n + j;
      const float scaled = __fmul_rn(alpha, s);
      out[at] = beta == 0.0f ? scaled : __fadd_rn(scaled, __fmul_rn(beta, out[at]));
    }
  }
}

/**
 * out(colIndex[t], :) += alpha * values[t] * dense(r, :) for every non-zero t of row r: the
 * transposed product, scattered with f32 atomics (rows sharing a column add into one output row;
 * the order of those additions, hence the last bits, is not deterministic). The host has applied
 * beta to out beforehand.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_spmm_t_f32(const int* rowStart, const int* colIndex, const float* values,
    const float* dense, float* out, u32 rows, u32 n, float alpha) {
  for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
    const int start = rowStart[r];
    const int end = rowStart[r + 1];
    for (u64 j = threadIdx.x; j < n; j += blockDim.x) {
      const float d = dense[r * n + j];
      for (int t = start; t < end; t++) {
        const float term = __fmul_rn(__fmul_rn(alpha, values[t]), d);
        atomicAdd(&out[(u64)(u32)colIndex[t] * n + j], term);
      }
    }
  }
}

/**
 * Non-zeros per row (NaN counts, -0.0 does not: the test is !(v == 0)). One warp per row, 32
 * columns per step, counted with a ballot. Every lane of the warp runs the same steps (the bounds
 * are warp-uniform), so the full-mask ballot is valid.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_count_nonzeros(const float* x, u32 rows, u32 cols, int* counts) {
  const u32 lane = threadIdx.x & 31u;
  const u64 warps = blockDim.x >> 5;
  for (u64 r = (u64)blockIdx.x * warps + (threadIdx.x >> 5); r < rows; r += (u64)gridDim.x * warps) {
    const float* row = x + r * cols;
    u32 total = 0;
    for (u64 c0 = 0; c0 < cols; c0 += 32) {
      const u64 c = c0 + lane;
      const bool nonZero = c < cols && !(row[c] == 0.0f);
      total += __popc(__ballot_sync(CC_FULL_MASK, nonZero));
    }
    if (lane == 0) {
      counts[r] = (int)total;
    }
  }
}

/**
 * Writes the non-zeros of row r, in increasing column order, at [rowStart[r], ...): each step of
 * 32 columns ballots which lanes hold a non-zero; a lane's slot is the number of non-zero lanes
 * below it (popc of the ballot masked to lower lanes), and the row's cursor then advances by the
 * step's count. So the order is column order without any sort.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_compress_rows(const float* x, u32 rows, u32 cols, const int* rowStart,
    int* colIndex, float* values) {
  const u32 lane = threadIdx.x & 31u;
  const u32 lowerLanes = (1u << lane) - 1u;
  const u64 warps = blockDim.x >> 5;
  for (u64 r = (u64)blockIdx.x * warps + (threadIdx.x >> 5); r < rows; r += (u64)gridDim.x * warps) {
    const float* row = x + r * cols;
    u32 cursor = (u32)rowStart[r];
    for (u64 c0 = 0; c0 < cols; c0 += 32) {
      const u64 c = c0 + lane;
      float v = 0.0f;
      bool nonZero = false;
      if (c < cols) {
        v = row[c];
        nonZero = !(v == 0.0f);
      }
      const u32 ballot = __ballot_sync(CC_FULL_MASK, nonZero);
      if (nonZero) {
        const u32 at = cursor + __popc(ballot & lowerLanes);
        colIndex[at] = (int)c;
        values[at] = v;
      }
      cursor += __popc(ballot);
    }
  }
}

/** out(r, colIndex[t]) += values[t]; atomics because duplicate columns in a row add. */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_csr_to_dense(const int* rowStart, const int* colIndex, const float* values,
    float* out, u32 rows, u32 cols) {
  for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
    const long long end = rowStart[r + 1];
    for (long long t = (long long)rowStart[r] + threadIdx.x; t < end; t += blockDim.x) {
      atomicAdd(&out[r * cols + (u32)colIndex[t]], values[t]);
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Selection
// ------------------------------------------------------------------------------------------------

/**
 * The k largest elements of each row, in descending key order (value descending, then column
 * ascending), one block per row:
 *
 * 1. Radix select of the k-th largest 64-bit key, 8 bits per pass from the top. Invariant before a
 *    pass at `shift`: the candidates are the keys whose bits above shift + 8 equal `prefix`'s;
 *    exactly k - remaining keys lie above every candidate, and 1 <= remaining <= #candidates. The
 *    pass histograms the candidates' digit (bits shift .. shift + 7) and finds the digit d with
 *    above < remaining <= above + equal, where above counts candidates with a larger digit and equal
 *    those with digit d. Then prefix gets d, and remaining -= above. If above + equal == remaining,
 *    every candidate with digit d is in the top k, so exactly k keys are >= prefix (with zeros below
 *    shift) and the select stops early (the usual case once the float value is decided); otherwise
 *    it goes on to the next 8 bits. Keys are distinct, so after the last pass prefix is the k-th key.
 * 2. Gather the k keys >= threshold (a shared counter, one atomic per warp step; their order does
 *    not matter, the sort decides it).
 * 3. Bitonic sort of kpad keys (padded with key 0, below every real key) into descending order, in
 *    dynamic shared memory (kpad * 8 bytes) or, when scratch != 0, in scratch + r * kpad.
 * 4. Decode the first k keys to (value, column).
 *
 * Preconditions (the host's): 1 <= k <= cols, kpad the smallest power of two >= k. A launch that
 * breaks them writes nothing rather than memory outside the buffers.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_row_topk(const float* x, u32 rows, u32 cols, u32 k, u32 kpad,
    float* values, int* indices, u64* scratch) {
  extern __shared__ u64 cc_topk_shared_keys[];
  __shared__ u32 histogram[256];
  __shared__ u32 chosenDigit;
  __shared__ u32 chosenAbove;
  __shared__ u32 chosenEqual;
  __shared__ u32 gathered;

  if (k == 0 || k > cols || kpad < k || (kpad & (kpad - 1u)) != 0u) {
    return;  // uniform over the grid: every block leaves
  }
  const u32 tid = threadIdx.x;
  const u32 lane = tid & 31u;
  const u32 lowerLanes = (1u << lane) - 1u;
  for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* row = x + r * cols;
    u64* keys = scratch != 0 ? scratch + r * kpad : cc_topk_shared_keys;

    // 1. Radix select (see above). prefix holds the digits chosen so far, zero below `shift`.
    u64 prefix = 0;
    u32 remaining = k;
    for (u32 shift = 56;; shift -= 8) {
      for (u32 b = tid; b < 256u; b += blockDim.x) {
        histogram[b] = 0;
      }
      __syncthreads();
      // Warp-uniform loop (c0 is the same in all lanes of a warp) for the warp-aggregated histogram.
      for (u64 c0 = tid & ~31u; c0 < cols; c0 += blockDim.x) {
        const u64 c = c0 + lane;
        bool counted = false;
        u32 bin = 0;
        if (c < cols) {
          const u64 key = cc_topk_key(row[c], (u32)c);
          // shift == 56: every key is a candidate (and key >> 64 would be undefined).
          counted = shift == 56u || (key >> (shift + 8u)) == (prefix >> (shift + 8u));
          bin = (u32)(key >> shift) & 255u;
        }
        cc_histogram_add_warp(histogram, counted, bin);
      }
      __syncthreads();
      if (tid < 32u) {
        // Warp 0 finds the digit: lane l owns bins [8l, 8l + 8); a suffix sum over lanes gives the
        // candidates above each lane's bins, and the one lane whose range holds the remaining-th
        // largest candidate scans its bins from the top.
        u32 bins[8];
        u32 sum = 0;
#pragma unroll
        for (int b = 0; b < 8; b++) {
          bins[b] = histogram[lane * 8u + b];
          sum += bins[b];
        }
        u32 inclusive = sum;  // candidates in the bins of lanes >= lane
#pragma unroll
        for (int offset = 1; offset < 32; offset <<= 1) {
          const u32 other = __shfl_down_sync(CC_FULL_MASK, inclusive, offset);
          if (lane + offset < 32u) {
            inclusive += other;
          }
        }
        const u32 aboveLane = inclusive - sum;
        if (aboveLane < remaining && remaining <= inclusive) {
          u32 above = aboveLane;
#pragma unroll
          for (int b = 7; b >= 0; b--) {
            if (remaining <= above + bins[b]) {
              chosenDigit = lane * 8u + (u32)b;
              chosenAbove = above;
              chosenEqual = bins[b];
              break;
            }
            above += bins[b];
          }
        }
      }
      __syncthreads();
      const u32 digit = chosenDigit;
      const u32 above = chosenAbove;
      const u32 equal = chosenEqual;
      prefix |= (u64)digit << shift;
      const bool allTaken = above + equal == remaining;
      remaining -= above;
      if (allTaken || shift == 0u) {
        break;  // uniform: every thread read the same shared values
      }
    }

    // 2. Gather the k keys >= prefix.
    if (tid == 0) {
      gathered = 0;
    }
    __syncthreads();
    // Warp-uniform loop: a ballot finds the warp's selected keys, lane 0 reserves room for all of
    // them with one atomic, and each takes the slot given by the selected lanes below it.
    for (u64 c0 = tid & ~31u; c0 < cols; c0 += blockDim.x) {
      const u64 c = c0 + lane;
      u64 key = 0;
      bool taken = false;
      if (c < cols) {
        key = cc_topk_key(row[c], (u32)c);
        taken = key >= prefix;
      }
      const u32 ballot = __ballot_sync(CC_FULL_MASK, taken);
      if (ballot != 0u) {  // warp-uniform
        u32 base = 0;
        if (lane == 0) {
          base = atomicAdd(&gathered, (u32)__popc(ballot));
        }
        base = __shfl_sync(CC_FULL_MASK, base, 0);
        if (taken) {
          const u32 at = base + __popc(ballot & lowerLanes);
          if (at < k) {
            keys[at] = key;
          }
        }
      }
    }
    for (u64 i = (u64)k + tid; i < kpad; i += blockDim.x) {
      keys[i] = 0;
    }
    __syncthreads();

    // 3. Bitonic sort, descending. Stage (size, stride) compares element i with i + stride for every
    // i whose `stride` bit is clear; thread t handles pair t (i = t with a zero bit inserted at
    // stride). The pair sorts descending when bit `size` of i is clear, else ascending; at size ==
    // kpad that bit is clear everywhere, so the last merge leaves the whole buffer descending.
    const u64 pairs = kpad >> 1;
    for (u64 size = 2; size <= kpad; size <<= 1) {
      for (u64 stride = size >> 1; stride > 0; stride >>= 1) {
        for (u64 t = tid; t < pairs; t += blockDim.x) {
          const u64 i = ((t & ~(stride - 1)) << 1) | (t & (stride - 1));
          const u64 j = i + stride;
          const u64 a = keys[i];
          const u64 b = keys[j];
          const bool descending = (i & size) == 0;
          if (descending ? a < b : a > b) {
            keys[i] = b;
            keys[j] = a;
          }
        }
        __syncthreads();
      }
    }

    // 4. Decode.
    for (u64 t = tid; t < k; t += blockDim.x) {
      const u64 key = keys[t];
      values[r * k + t] = cc_float_of_order((u32)(key >> 32));
      indices[r * k + t] = (int)(0xffffffffu - (u32)key);
    }
    // The next row reuses the histogram, the counter and (in shared memory) the keys. Their first
    // writes there already come after a barrier, so this one is a guard against later reordering
    // of the phases rather than a necessity; it costs one barrier per row.
    __syncthreads();
  }
}

/**
 * One pass of the BatchTopK radix select over a whole buffer: the histogram of the 8-bit digit at
 * `shift` of the keys (position p = i) whose bits above shift + 8 equal prefix's (all keys when
 * shift == 56). Each block counts into shared memory first (warp-aggregated), then adds its
 * non-zero bins to the global histogram, so global atomics are at most 256 per block. Positions must be < 2^32.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_radix_histogram(const float* scores, u64 n, u64 prefix, u32 shift, u32* hist) {
  __shared__ u32 local[256];
  for (u32 b = threadIdx.x; b < 256u; b += blockDim.x) {
    local[b] = 0;
  }
  __syncthreads();
  // Grid-stride loop that is warp-uniform (base is the same in all lanes of a warp), for the
  // warp-aggregated histogram.
  const u32 lane = threadIdx.x & 31u;
  for (u64 base = (u64)blockIdx.x * blockDim.x + (threadIdx.x & ~31u); base < n; base += cc_grid_step()) {
    const u64 i = base + lane;
    bool counted = false;
    u32 bin = 0;
    if (i < n) {
      const u64 key = cc_topk_key(scores[i], (u32)i);
      counted = shift == 56u || (key >> (shift + 8u)) == (prefix >> (shift + 8u));
      bin = (u32)(key >> shift) & 255u;
    }
    cc_histogram_add_warp(local, counted, bin);
  }
  __syncthreads();
  for (u32 b = threadIdx.x; b < 256u; b += blockDim.x) {
    const u32 count = local[b];
    if (count != 0) {
      atomicAdd(&hist[b], count);
    }
  }
}

/**
 * Keeps x[i] where key(scores[i], i) >= threshold and zeroes it elsewhere. Only the zeroing writes,
 * so a kept element keeps its exact bits, and x may be scores itself.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_batch_topk_mask(const float* scores, float* x, u64 n, u64 threshold) {
  for (u64 i = cc_first_index(); i < n; i += cc_grid_step()) {
    if (cc_topk_key(scores[i], (u32)i) < threshold) {
      x[i] = 0.0f;
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Weight-diff pair statistics
// ------------------------------------------------------------------------------------------------

/** One thread's share of a segment's statistics. */
struct cc_pair_partial {
  double dot;
  double xx;
  double yy;
  double dd;
  float maxAbs;
  u32 changed;
  u32 nonFinite;
};

template <int A, int B>
__device__ __forceinline__ void cc_pair_accumulate(const void* a, const void* b, u64 from, u64 to, cc_pair_partial& p) {
  for (u64 i = from; i < to; i += blockDim.x) {
    const float x = cc_load_widened(a, A, i);
    const float y = cc_load_widened(b, B, i);
    // Changed is counted over all pairs, by the widened f32 bit patterns (so -0.0 vs 0.0 changed).
    p.changed += __float_as_uint(x) != __float_as_uint(y) ? 1u : 0u;
    if (!cc_is_finite(x) || !cc_is_finite(y)) {
      p.nonFinite++;
      continue;
    }
    // The difference in f32 as PairStatistics specifies; it overflows to inf only for opposite-signed
    // values near the f32 maximum. Products of two f32 are exact in f64, so an FMA the compiler may
    // form here gives the same f64 sums as a multiply and an add.
    const float d = __fsub_rn(y, x);
    const double xd = (double)x;
    const double yd = (double)y;
    const double dd = (double)d;
    p.dot += xd * yd;
    p.xx += xd * xd;
    p.yy += yd * yd;
    p.dd += dd * dd;
    const float ad = __uint_as_float(__float_as_uint(d) & 0x7fffffffu);
    p.maxAbs = ad > p.maxAbs ? ad : p.maxAbs;
  }
}

/**
 * The fused one-pass statistics of a pair of weight tensors, per segment of a row: block g covers
 * row g / segsPerRow, columns [s * segLen, min(cols, (s + 1) * segLen)) with s = g % segsPerRow.
 * Writes sums[4g ..] = (sum xy, sum xx, sum yy, sum dd) in f64, maxAbs[g] = max |d| in f32 and
 * counts[2g ..] = (changed, nonFinite). The host folds the segments. The dtype pair is dispatched
 * once per block so the inner loop has no per-element branch on it. The grid must be exactly
 * rows * segsPerRow blocks (the kernel has no rows parameter to stride with).
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_pair_segments(const void* a, int aType, const void* b, int bType, u32 cols, u32 segLen,
    u32 segsPerRow, double* sums, float* maxAbs, u64* counts) {
  __shared__ double warpSums[4][32];
  __shared__ float warpMax[32];
  __shared__ u32 warpCounts[2][32];

  const u64 g = blockIdx.x;
  const u64 r = g / segsPerRow;
  const u64 s = g - r * segsPerRow;
  const u64 begin = s * segLen;
  const u64 end = cols - begin < (u64)segLen ? (u64)cols : begin + segLen;  // only read when begin < cols
  cc_pair_partial p;
  p.dot = 0.0;
  p.xx = 0.0;
  p.yy = 0.0;
  p.dd = 0.0;
  p.maxAbs = 0.0f;
  p.changed = 0;
  p.nonFinite = 0;
  if (begin < cols) {
    const u64 from = r * cols + begin + threadIdx.x;
    const u64 to = r * cols + end;
    const bool known = aType >= 0 && aType <= 2 && bType >= 0 && bType <= 2;
    switch (known ? aType * 3 + bType : -1) {
      case 0: cc_pair_accumulate<0, 0>(a, b, from, to, p); break;
      case 1: cc_pair_accumulate<0, 1>(a, b, from, to, p); break;
      case 2: cc_pair_accumulate<0, 2>(a, b, from, to, p); break;
      case 3: cc_pair_accumulate<1, 0>(a, b, from, to, p); break;
      case 4: cc_pair_accumulate<1, 1>(a, b, from, to, p); break;
      case 5: cc_pair_accumulate<1, 2>(a, b, from, to, p); break;
      case 6: cc_pair_accumulate<2, 0>(a, b, from, to, p); break;
      case 7: cc_pair_accumulate<2, 1>(a, b, from, to, p); break;
      case 8: cc_pair_accumulate<2, 2>(a, b, from, to, p); break;
      default: cc_pair_accumulate<-1, -1>(a, b, from, to, p); break;  // unknown codes read as NaN
    }
  }

  // Block reduction in a fixed order (reproducible): shuffles within each warp, then warp 0.
  const u32 lane = threadIdx.x & 31u;
  const u32 warp = threadIdx.x >> 5;
  p.dot = cc_warp_sum_f64(p.dot);
  p.xx = cc_warp_sum_f64(p.xx);
  p.yy = cc_warp_sum_f64(p.yy);
  p.dd = cc_warp_sum_f64(p.dd);
  p.maxAbs = cc_warp_max_f32(p.maxAbs);
  p.changed = cc_warp_sum_u32(p.changed);
  p.nonFinite = cc_warp_sum_u32(p.nonFinite);
  if (lane == 0) {
    warpSums[0][warp] = p.dot;
    warpSums[1][warp] = p.xx;
    warpSums[2][warp] = p.yy;
    warpSums[3][warp] = p.dd;
    warpMax[warp] = p.maxAbs;
    warpCounts[0][warp] = p.changed;
    warpCounts[1][warp] = p.nonFinite;
  }
  __syncthreads();
  if (warp == 0) {
    const bool has = lane < (blockDim.x >> 5);
    const double dot = cc_warp_sum_f64(has ? warpSums[0][lane] : 0.0);
    const double xx = cc_warp_sum_f64(has ? warpSums[1][lane] : 0.0);
    const double yy = cc_warp_sum_f64(has ? warpSums[2][lane] : 0.0);
    const double dd = cc_warp_sum_f64(has ? warpSums[3][lane] : 0.0);
    const float mx = cc_warp_max_f32(has ? warpMax[lane] : 0.0f);
    const u32 changed = cc_warp_sum_u32(has ? warpCounts[0][lane] : 0u);
    const u32 nonFinite = cc_warp_sum_u32(has ? warpCounts[1][lane] : 0u);
    if (lane == 0) {
      sums[4 * g + 0] = dot;
      sums[4 * g + 1] = xx;
      sums[4 * g + 2] = yy;
      sums[4 * g + 3] = dd;
      maxAbs[g] = mx;
      counts[2 * g + 0] = changed;
      counts[2 * g + 1] = nonFinite;
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Transformer kernels: the decoder forward pass besides the products (Kernels#rmsNorm,
// #rotaryEmbedding, #causalSoftmax, #siluMultiply)
// ------------------------------------------------------------------------------------------------

/**
 * RMSNorm's factor 1 / sqrt(sum of squares / cols + eps): in f64 and rounded once to f32, the
 * CPU's arithmetic (only the sum itself is more precise here: exact f64 squares).
 */
__device__ __forceinline__ float cc_rms_scale(double squares, u32 cols, float eps) {
  return __double2float_rn(1.0 / __dsqrt_rn(squares / (double)cols + (double)eps));
}

/**
 * RMSNorm of each packed row, one block per row: out(r, c) = (x(r, c) * s_r) * weight[c], each
 * product rounded on its own as on the CPU, with s_r from the f64 sum of the row's squares (each
 * square exact in f64, so an FMA the compiler may form changes nothing). out may be x: every
 * element is read for the sum before the block's barrier and rewritten after it by the thread that
 * reads it again.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_rms_norm_f32(const float* x, const float* weight, float* out,
    u32 rows, u32 cols, float eps) {
  for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* row = x + r * cols;
    float* dst = out + r * cols;
    double acc = 0.0;
    for (u64 c = threadIdx.x; c < cols; c += blockDim.x) {
      const double v = (double)row[c];
      acc += v * v;
    }
    const float scale = cc_rms_scale(cc_block_allsum_f64(acc), cols, eps);
    for (u64 c = threadIdx.x; c < cols; c += blockDim.x) {
      dst[c] = __fmul_rn(__fmul_rn(row[c], scale), weight[c]);
    }
  }
}

/**
 * cc_rms_norm_f32 with one warp per row, for short rows (a Qwen3 q/k norm has rows of head_dim =
 * 128, many of them): no block barrier, and all 32 lanes busy where a block of 256 would leave most
 * threads idle. The same arithmetic; only the order of the f64 additions differs.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_rms_norm_warp_f32(const float* x, const float* weight,
    float* out, u32 rows, u32 cols, float eps) {
  const u32 lane = threadIdx.x & 31u;
  const u64 warps = blockDim.x >> 5;
  // Warp-uniform loop (r is the same in every lane of a warp), as the full-mask shuffles need.
  for (u64 r = (u64)blockIdx.x * warps + (threadIdx.x >> 5); r < rows; r += (u64)gridDim.x * warps) {
    const float* row = x + r * cols;
    float* dst = out + r * cols;
    double acc = 0.0;
    for (u64 c = lane; c < cols; c += 32) {
      const double v = (double)row[c];
      acc += v * v;
    }
    const float scale = cc_rms_scale(cc_warp_allsum_f64(acc), cols, eps);
    for (u64 c = lane; c < cols; c += 32) {
      dst[c] = __fmul_rn(__fmul_rn(row[c], scale), weight[c]);
    }
  }
}

/**
 * Rotate-half rotary embedding, in place, one thread per (row, head, i < half) pair: with p =
 * positions[row], c = cosTable[p * half + i], s = sinTable[p * half + i], the pair (a, b) = (x_i,
 * x_{i + half}) of the head becomes (a c - b s, b c + a s), each product and sum rounded on its own
 * (the CPU's scalar arithmetic, so the two agree bit for bit). Adjacent threads take adjacent i, so
 * x and the tables are read coalesced. The host has checked every position against tableRows; a
 * position outside [0, tableRows) leaves its row as it was rather than reading outside the tables.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_rotary_f32(float* x, const int* positions, const float* cosTable,
    const float* sinTable, u32 rows, u32 heads, u32 half, u32 tableRows) {
  const u64 n = (u64)rows * heads * half;
  const bool narrow = n <= 0xffffffffull;  // 32-bit division is much cheaper than 64-bit
  for (u64 i = cc_first_index(); i < n; i += cc_grid_step()) {
    u64 vector;  // the (row, head) pair's index: row * heads + head
    u64 j;
    u64 r;
    if (narrow) {
      const u32 v32 = (u32)i / half;
      vector = v32;
      j = (u32)i - v32 * half;
      r = v32 / heads;
    } else {
      vector = i / half;
      j = i - vector * half;
      r = vector / heads;
    }
    const u32 p = (u32)positions[r];  // a negative position becomes >= 2^31 > tableRows - 1
    if (p >= tableRows) {
      continue;
    }
    const u64 t = (u64)p * half + j;
    const u64 at = vector * 2u * half + j;
    const float a = x[at];
    const float b = x[at + half];
    const float c = cosTable[t];
    const float s = sinTable[t];
    x[at] = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
    x[at + half] = __fadd_rn(__fmul_rn(b, c), __fmul_rn(a, s));
  }
}

/**
 * Softmax under the causal and sliding-window mask, in place, one block per row: row r (at r * ld)
 * is the query at position q = firstQuery + r against keys 0 .. cols - 1, which sees key j when j
 * <= q and (window <= 0 or q - j < window), i.e. the keys [k0, k1) with k0 = window > 0 ? max(0, q -
 * window + 1) : 0 and k1 = min(cols, q + 1), both clipped to [0, cols).
 *
 * Hidden keys become exactly +0.0; a row with no visible key is all zeros. Visible keys: m = the
 * largest (NaN wins, as Java's Math.max: a NaN score makes the row NaN), e_j = expf(x_j - m) (the
 * difference rounded in f32, as on the CPU), total = sum e_j (f64: each thread's share, then the
 * block's fixed tree), x_j = e_j * (float)(1 / total). Columns [cols, ld) are never touched.
 *
 * Barriers: whether a row has visible keys depends only on r and the arguments, so a row without
 * any skips both reductions in every thread alike. The max pass reads x_j in one thread and the exp
 * pass may write it in another; the max reduction's barriers lie between them.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_causal_softmax_f32(float* x, u32 rows, u32 cols, u32 ld,
    u32 firstQuery, int window) {
  for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
    float* row = x + r * ld;
    const long long q = (long long)firstQuery + (long long)r;
    long long from = window > 0 ? q - (long long)window + 1 : 0;
    from = from < 0 ? 0 : from;
    from = from < (long long)cols ? from : (long long)cols;
    long long to = q + 1 < (long long)cols ? q + 1 : (long long)cols;
    to = to > from ? to : from;
    const u64 k0 = (u64)from;
    const u64 k1 = (u64)to;

    float m = __uint_as_float(0xff800000u);  // -inf
    for (u64 c = threadIdx.x; c < cols; c += blockDim.x) {
      if (c < k0 || c >= k1) {
        row[c] = 0.0f;
      } else {
        m = cc_max_nan(m, row[c]);
      }
    }
    if (k0 == k1) {
      continue;  // no visible key: uniform over the block, so no barrier is split
    }
    m = cc_block_allmax_f32(m);
    double acc = 0.0;
    for (u64 c = k0 + threadIdx.x; c < k1; c += blockDim.x) {
      const float e = expf(__fsub_rn(row[c], m));
      row[c] = e;
      acc += (double)e;
    }
    const float inverse = __double2float_rn(1.0 / cc_block_allsum_f64(acc));
    for (u64 c = k0 + threadIdx.x; c < k1; c += blockDim.x) {
      row[c] = __fmul_rn(row[c], inverse);  // the element this thread wrote above
    }
  }
}

/**
 * The SwiGLU gate, element-wise: out[i] = (g / (1 + expf(-g))) * up[i] with g = gate[i], each
 * operation rounded on its own as on the CPU (expf within 2 ulp without --use_fast_math). A gate
 * below about -88 gives expf(-g) = inf and a signed zero, as Java's float arithmetic does; NaN
 * stays NaN. out may be gate or up: each element is read before it is written, by one thread.
 */
extern "C" __global__ void __launch_bounds__(CC_BLOCK) cc_silu_mul_f32(const float* gate, const float* up, float* out, u64 n) {
  for (u64 i = cc_first_index(); i < n; i += cc_grid_step()) {
    const float g = gate[i];
    out[i] = __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), up[i]);
  }
}
