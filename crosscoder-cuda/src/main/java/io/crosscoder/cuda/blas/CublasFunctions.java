package io.crosscoder.cuda.blas;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.FunctionDescriptor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The C signatures of the cuBLAS entry points {@link FfmCublasBinding} calls, as FFM function
 * descriptors, in one table. They are the exported symbols of {@code libcublas.so.12} and
 * {@code .13} (the {@code _v2} names are what {@code cublas_v2.h} maps {@code cublasCreate} and
 * friends to; libJCublas2 12.6.0 imports exactly these names). Prototypes from {@code cublas_api.h}:
 *
 * <pre>
 * cublasStatus_t cublasCreate_v2(cublasHandle_t *handle);
 * cublasStatus_t cublasDestroy_v2(cublasHandle_t handle);
 * cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int *version);
 * cublasStatus_t cublasGetProperty(libraryPropertyType type, int *value);
 * cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
 * cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa,
 *     cublasOperation_t transb, int m, int n, int k, const float *alpha, const float *A, int lda,
 *     const float *B, int ldb, const float *beta, float *C, int ldc);
 * cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
 *     cublasOperation_t transb, int m, int n, int k, const void *alpha, const void *A,
 *     cudaDataType Atype, int lda, const void *B, cudaDataType Btype, int ldb, const void *beta,
 *     void *C, cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
 *     cublasGemmAlgo_t algo);
 * </pre>
 *
 * <p>Carriers: handles and pointers are {@code ADDRESS}; {@code int} and the C enums (all
 * int-sized on x86-64 and aarch64 Linux, {@code cublasGemmAlgo_t} signed) are {@code JAVA_INT};
 * {@code cublasStatus_t} returns as {@code JAVA_INT}.
 */
final class CublasFunctions {
  static final String CREATE = "cublasCreate_v2";
  static final String DESTROY = "cublasDestroy_v2";
  static final String GET_VERSION = "cublasGetVersion_v2";
  static final String GET_PROPERTY = "cublasGetProperty";
  static final String SET_MATH_MODE = "cublasSetMathMode";
  static final String SGEMM = "cublasSgemm_v2";
  static final String GEMM_EX = "cublasGemmEx";

  /** Symbol name to descriptor, in the order above. */
  static final Map<String, FunctionDescriptor> DESCRIPTORS = table();

  private CublasFunctions() {}

  private static Map<String, FunctionDescriptor> table() {
    Map<String, FunctionDescriptor> t = new LinkedHashMap<>();
    t.put(CREATE, FunctionDescriptor.of(JAVA_INT, ADDRESS));
    t.put(DESTROY, FunctionDescriptor.of(JAVA_INT, ADDRESS));
    t.put(GET_VERSION, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    t.put(GET_PROPERTY, FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    t.put(SET_MATH_MODE, FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    t.put(SGEMM, FunctionDescriptor.of(JAVA_INT,
        ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
        ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT,
        ADDRESS, ADDRESS, JAVA_INT));
    t.put(GEMM_EX, FunctionDescriptor.of(JAVA_INT,
        ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
        ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT,
        ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    return java.util.Collections.unmodifiableMap(t);
  }
}
