package io.crosscoder.cuda.blas;

/**
 * The arguments of one column-major GEMM {@code C = alpha op(A) op(B) + beta C}, checked at the
 * boundary with the rules of reference BLAS {@code SGEMM} (which cuBLAS documents for
 * {@code CUBLAS_STATUS_INVALID_VALUE}): {@code m, n, k >= 0}, {@code lda >= max(1, rows of A as
 * stored)} where A is stored {@code m x k} untransposed and {@code k x m} transposed,
 * {@code ldb >= max(1, transB ? n : k)}, {@code ldc >= max(1, m)}; and device addresses that are
 * read must not be 0.
 */
record GemmCall(boolean transA, boolean transB, int m, int n, int k, float alpha, long a, int lda,
    long b, int ldb, float beta, long c, int ldc) {

  /**
   * Throws {@link IllegalArgumentException} naming {@code call} and every argument when the shape
   * or a leading dimension is invalid.
   */
  GemmCall validate(String call) {
    String problem = problem();
    if (problem != null) {
      throw new IllegalArgumentException(call + "(" + describe() + "): " + problem);
    }
    return this;
  }

  private String problem() {
    if (m < 0 || n < 0 || k < 0) {
      return "m, n and k must be >= 0";
    }
    int rowsA = transA ? k : m;
    int rowsB = transB ? n : k;
    if (lda < Math.max(1, rowsA)) {
      return "lda must be >= max(1, " + (transA ? "k" : "m") + ") = " + Math.max(1, rowsA);
    }
    if (ldb < Math.max(1, rowsB)) {
      return "ldb must be >= max(1, " + (transB ? "n" : "k") + ") = " + Math.max(1, rowsB);
    }
    if (ldc < Math.max(1, m)) {
      return "ldc must be >= max(1, m) = " + Math.max(1, m);
    }
    boolean empty = m == 0 || n == 0;
    if (!empty && c == 0) {
      return "c is the null device address";
    }
    if (!empty && k > 0 && alpha != 0f && (a == 0 || b == 0)) {
      return (a == 0 ? "a" : "b") + " is the null device address";
    }
    return null;
  }

  /** The arguments as {@code name=value} pairs, addresses in hex. */
  String describe() {
    return "transA=" + (transA ? "T" : "N") + ", transB=" + (transB ? "T" : "N")
        + ", m=" + m + ", n=" + n + ", k=" + k + ", alpha=" + alpha
        + ", a=0x" + Long.toHexString(a) + ", lda=" + lda
        + ", b=0x" + Long.toHexString(b) + ", ldb=" + ldb
        + ", beta=" + beta + ", c=0x" + Long.toHexString(c) + ", ldc=" + ldc;
  }
}
