package io.crosscoder.cuda.blas;

/**
 * What every binding of {@link Cublas} shares: the argument checks before a product reaches
 * cuBLAS, the closed state, the math-mode names and the description. A binding supplies only the
 * native calls. Methods are {@code synchronized} on the handle.
 */
abstract class CublasHandle implements Cublas {
  private final String description;
  private boolean closed;

  CublasHandle(String description) {
    this.description = description;
  }

  @Override
  public final synchronized void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
      long a, int lda, long b, int ldb, float beta, long c, int ldc) {
    GemmCall call = new GemmCall(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        .validate(CublasFunctions.SGEMM);
    ensureOpen();
    callSgemm(call);
  }

  @Override
  public final synchronized void gemmBf16(boolean transA, boolean transB, int m, int n, int k,
      float alpha, long a, int lda, long b, int ldb, float beta, long c, int ldc) {
    GemmCall call = new GemmCall(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        .validate(CublasFunctions.GEMM_EX);
    ensureOpen();
    callGemmBf16(call);
  }

  @Override
  public final synchronized void setTf32(boolean on) {
    ensureOpen();
    callSetMathMode(on ? CublasEnums.CUBLAS_TF32_TENSOR_OP_MATH : CublasEnums.CUBLAS_DEFAULT_MATH,
        "mode=" + (on ? "CUBLAS_TF32_TENSOR_OP_MATH" : "CUBLAS_DEFAULT_MATH"));
  }

  @Override
  public final String description() {
    return description;
  }

  @Override
  public final synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    callDestroy();
  }

  @Override
  public final String toString() {
    return description;
  }

  /** {@code cublasSgemm_v2} with checked arguments, on an open handle. */
  abstract void callSgemm(GemmCall call);

  /** {@code cublasGemmEx} with bf16 A and B, f32 C, with checked arguments, on an open handle. */
  abstract void callGemmBf16(GemmCall call);

  /** {@code cublasSetMathMode}; {@code arguments} names the mode for messages. */
  abstract void callSetMathMode(int mode, String arguments);

  /** {@code cublasDestroy_v2} and whatever else the handle holds; called once. */
  abstract void callDestroy();

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("cuBLAS handle is closed (" + description + ")");
    }
  }
}
