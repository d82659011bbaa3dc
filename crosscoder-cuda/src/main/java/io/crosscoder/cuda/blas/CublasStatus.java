package io.crosscoder.cuda.blas;

import io.crosscoder.CrosscoderException;

/**
 * Names of {@code cublasStatus_t} values, written out here rather than asked of
 * {@code cublasGetStatusName}, which older cuBLAS builds and JCublas lack. Values from the
 * {@code cublasStatus_t} typedef of {@code cublas_api.h} (cuBLAS 11.9 copy in
 * ggerganov/llama.cpp, {@code include/cuda/cublas_api.h}), NVIDIA's nvmath-python reference
 * {@code nvmath.bindings.cublas.Status} (current for CUDA 13) and JCuda 12.6.0's
 * {@code jcuda.jcublas.cublasStatus}; they agree.
 */
final class CublasStatus {
  static final int SUCCESS = 0;
  static final int NOT_INITIALIZED = 1;
  static final int ALLOC_FAILED = 3;
  static final int INVALID_VALUE = 7;
  static final int ARCH_MISMATCH = 8;
  static final int MAPPING_ERROR = 11;
  static final int EXECUTION_FAILED = 13;
  static final int INTERNAL_ERROR = 14;
  static final int NOT_SUPPORTED = 15;
  static final int LICENSE_ERROR = 16;

  private CublasStatus() {}

  /** The enum constant's name, e.g. {@code CUBLAS_STATUS_INVALID_VALUE} for 7. */
  static String name(int status) {
    return switch (status) {
      case SUCCESS -> "CUBLAS_STATUS_SUCCESS";
      case NOT_INITIALIZED -> "CUBLAS_STATUS_NOT_INITIALIZED";
      case ALLOC_FAILED -> "CUBLAS_STATUS_ALLOC_FAILED";
      case INVALID_VALUE -> "CUBLAS_STATUS_INVALID_VALUE";
      case ARCH_MISMATCH -> "CUBLAS_STATUS_ARCH_MISMATCH";
      case MAPPING_ERROR -> "CUBLAS_STATUS_MAPPING_ERROR";
      case EXECUTION_FAILED -> "CUBLAS_STATUS_EXECUTION_FAILED";
      case INTERNAL_ERROR -> "CUBLAS_STATUS_INTERNAL_ERROR";
      case NOT_SUPPORTED -> "CUBLAS_STATUS_NOT_SUPPORTED";
      case LICENSE_ERROR -> "CUBLAS_STATUS_LICENSE_ERROR";
      default -> "unknown cuBLAS status " + status;
    };
  }

  /** What a user can do about {@code status}, or an empty string. */
  static String hint(int status) {
    return switch (status) {
      case NOT_INITIALIZED -> "; cuBLAS could not initialise: is a CUDA context current on this thread"
          + " and the driver new enough for this cuBLAS?";
      case ALLOC_FAILED -> "; the GPU is out of memory";
      case ARCH_MISMATCH, NOT_SUPPORTED -> "; this GPU or cuBLAS build does not support the operation"
          + " (BF16 GEMM needs compute capability 8.0 or newer)";
      case MAPPING_ERROR, EXECUTION_FAILED -> "; a GPU kernel failed: check the device addresses and"
          + " sizes, and the context's last error";
      default -> "";
    };
  }

  /**
   * Throws unless {@code status} is success.
   *
   * @param status the returned {@code cublasStatus_t}
   * @param call the cuBLAS function, e.g. {@code cublasSgemm_v2}
   * @param arguments the call's arguments as {@code name=value} pairs, for the message
   * @throws CrosscoderException naming the call, the status and the arguments
   */
  static void check(int status, String call, String arguments) {
    if (status != SUCCESS) {
      throw new CrosscoderException(failure(status, call, arguments));
    }
  }

  /** The message {@link #check} throws: {@code "cublasSgemm_v2(m=2, ...) failed: CUBLAS_STATUS_INVALID_VALUE (7)"}. */
  static String failure(int status, String call, String arguments) {
    return call + "(" + arguments + ") failed: " + name(status) + " (" + status + ")" + hint(status);
  }
}
