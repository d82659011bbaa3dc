package io.crosscoder.cuda.blas;

/**
 * The values of the C enums this package passes to cuBLAS. They are part of the library's ABI,
 * identical in cuBLAS 12 and 13. Where each was checked:
 *
 * <ul>
 *   <li>[H] {@code cublas_api.h} of cuBLAS 11.9 (a copy is kept in ggerganov/llama.cpp,
 *       {@code include/cuda/cublas_api.h}): the {@code cublasOperation_t},
 *       {@code cublasGemmAlgo_t}, {@code cublasMath_t} and {@code cublasComputeType_t} typedefs;
 *   <li>[N] NVIDIA's nvmath-python bindings reference, {@code nvmath.bindings.cublas.Operation},
 *       {@code .GemmAlgo}, {@code .Math}, {@code .ComputeType} and
 *       {@code nvmath.CudaDataType} (docs.nvidia.com/cuda/nvmath-python/latest), current for
 *       CUDA 13;
 *   <li>[L] {@code library_types.h} of the CUDA 13.0 toolkit ({@code cudaDataType_t},
 *       {@code libraryPropertyType_t});
 *   <li>[J] the constants of JCuda 12.6.0 ({@code javap -constants} on
 *       {@code jcuda.jcublas.cublasOperation}, {@code cublasGemmAlgo}, {@code cublasMath},
 *       {@code cublasComputeType}, {@code jcuda.cudaDataType}).
 * </ul>
 */
final class CublasEnums {
  /** {@code cublasOperation_t CUBLAS_OP_N = 0}, no transpose [H, N, J]. */
  static final int CUBLAS_OP_N = 0;
  /** {@code cublasOperation_t CUBLAS_OP_T = 1}, transpose [H, N, J]. */
  static final int CUBLAS_OP_T = 1;

  /** {@code cudaDataType_t CUDA_R_32F = 0}, real f32 [L, N, J]. */
  static final int CUDA_R_32F = 0;
  /** {@code cudaDataType_t CUDA_R_16BF = 14}, real bfloat16 [L, N, J]. */
  static final int CUDA_R_16BF = 14;

  /** {@code cublasComputeType_t CUBLAS_COMPUTE_32F = 68}, f32 accumulation [H, N, J]. */
  static final int CUBLAS_COMPUTE_32F = 68;

  /** {@code cublasGemmAlgo_t CUBLAS_GEMM_DEFAULT = -1}, cuBLAS's heuristic [H, N, J]. */
  static final int CUBLAS_GEMM_DEFAULT = -1;

  /** {@code cublasMath_t CUBLAS_DEFAULT_MATH = 0}: f32 GEMMs in IEEE f32 [H, N, J]. */
  static final int CUBLAS_DEFAULT_MATH = 0;
  /** {@code cublasMath_t CUBLAS_TF32_TENSOR_OP_MATH = 3}: f32 GEMMs may use TF32 tensor cores [H, N, J]. */
  static final int CUBLAS_TF32_TENSOR_OP_MATH = 3;

  /** {@code libraryPropertyType_t MAJOR_VERSION = 0} (first enumerator) [L]. */
  static final int MAJOR_VERSION = 0;
  /** {@code libraryPropertyType_t MINOR_VERSION = 1} [L]. */
  static final int MINOR_VERSION = 1;
  /** {@code libraryPropertyType_t PATCH_LEVEL = 2} [L]. */
  static final int PATCH_LEVEL = 2;

  private CublasEnums() {}

  /** {@link #CUBLAS_OP_T} when {@code transpose}, else {@link #CUBLAS_OP_N}. */
  static int operation(boolean transpose) {
    return transpose ? CUBLAS_OP_T : CUBLAS_OP_N;
  }

  /**
   * The version {@code cublasGetVersion_v2} reports, as {@code major.minor.patch}. cuBLAS encodes
   * it as {@code CUBLAS_VER_MAJOR * 10000 + CUBLAS_VER_MINOR * 100 + CUBLAS_VER_PATCH} (the
   * {@code CUBLAS_VERSION} macro of {@code cublas_api.h} [H]), so 120604 is 12.6.4.
   */
  static String version(int encoded) {
    if (encoded <= 0) {
      return "unknown version (" + encoded + ")";
    }
    return (encoded / 10000) + "." + (encoded / 100 % 100) + "." + (encoded % 100);
  }
}
