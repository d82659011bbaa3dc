package io.crosscoder.cuda.blas;

/**
 * One cuBLAS handle, bound to the CUDA context that was current on the thread that made it, and
 * issuing work to that context's default (NULL) stream. Made by {@link CublasLoader.Loaded#create()}.
 *
 * <p>Every matrix is a raw device address ({@code CUdeviceptr} as a {@code long}) in
 * <b>column-major</b> order, exactly as cuBLAS takes it; leading dimensions are in elements. A
 * caller with row-major data uses the identity {@code (A B)^T = B^T A^T}: a row-major
 * {@code C[m x n] = A[m x k] B[k x n]} is the column-major call
 * {@code sgemm(false, false, n, m, k, 1, B, n, A, k, 0, C, n)}.
 *
 * <p>Calls are asynchronous: they return once the work is queued, and the caller synchronises
 * the stream or context before reading {@code C} on the host. The context must be current on the
 * calling thread. Methods of one handle may be called from several threads; each call is
 * serialised on the handle. Errors surface as {@link io.crosscoder.CrosscoderException} whose
 * message names the cuBLAS function, the status (e.g. {@code CUBLAS_STATUS_INVALID_VALUE}) and
 * every argument; invalid shapes are refused before the call with
 * {@link IllegalArgumentException}. The caller closes the handle, before destroying its context.
 */
public interface Cublas extends AutoCloseable {
  /**
   * {@code C = alpha op(A) op(B) + beta C} in f32 ({@code cublasSgemm_v2}, scalars in host
   * memory), where {@code op(X)} is {@code X} or {@code X^T}, {@code op(A)} is {@code m x k},
   * {@code op(B)} is {@code k x n} and {@code C} is {@code m x n}. With {@code beta == 0},
   * {@code C} need not hold valid values (cuBLAS: "C does not have to be a valid input"). Uses
   * TF32 tensor cores only after
   * {@link #setTf32(boolean) setTf32(true)}.
   *
   * @param transA whether {@code op(A) = A^T}; A is stored {@code k x m} then, else {@code m x k}
   * @param transB whether {@code op(B) = B^T}; B is stored {@code n x k} then, else {@code k x n}
   * @param m rows of {@code op(A)} and of {@code C}, {@code >= 0}
   * @param n columns of {@code op(B)} and of {@code C}, {@code >= 0}
   * @param k columns of {@code op(A)}, rows of {@code op(B)}, {@code >= 0}
   * @param alpha scale of the product
   * @param a device address of A (f32)
   * @param lda leading dimension of A, {@code >= max(1, transA ? k : m)}
   * @param b device address of B (f32)
   * @param ldb leading dimension of B, {@code >= max(1, transB ? n : k)}
   * @param beta scale of the old {@code C}
   * @param c device address of C (f32), read and written
   * @param ldc leading dimension of C, {@code >= max(1, m)}
   */
  void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, long a, int lda,
      long b, int ldb, float beta, long c, int ldc);

  /**
   * The same product with A and B in bfloat16 and C in f32 ({@code cublasGemmEx} with
   * {@code CUDA_R_16BF} inputs, a {@code CUDA_R_32F} output, {@code CUBLAS_COMPUTE_32F} and
   * {@code CUBLAS_GEMM_DEFAULT}): products of BF16 values are exact in f32, and accumulation is in
   * f32. Arguments as {@link #sgemm}; {@code lda} and {@code ldb} count BF16 elements. Needs a GPU
   * of compute capability 8.0 or newer.
   */
  void gemmBf16(boolean transA, boolean transB, int m, int n, int k, float alpha, long a, int lda,
      long b, int ldb, float beta, long c, int ldc);

  /**
   * Whether f32 GEMMs ({@link #sgemm}) may round their inputs to TF32 (10-bit mantissa) on tensor
   * cores ({@code cublasSetMathMode} with {@code CUBLAS_TF32_TENSOR_OP_MATH}), or stay in IEEE
   * f32 ({@code CUBLAS_DEFAULT_MATH}, the default of a new handle).
   */
  void setTf32(boolean on);

  /**
   * What does the work, e.g. {@code "cuBLAS 13.0.2 through FFM (libcublas.so.13 at
   * /usr/local/cuda/lib64/libcublas.so.13)"} or {@code "cuBLAS 12.6.4 through JCublas 12.6.0
   * (libcublas.so.12)"}; the version is the handle's {@code cublasGetVersion_v2}.
   */
  String description();

  /**
   * Destroys the handle ({@code cublasDestroy_v2}); later calls of any other method throw
   * {@link IllegalStateException}. Idempotent. Call it while the handle's context still exists.
   */
  @Override
  void close();
}
