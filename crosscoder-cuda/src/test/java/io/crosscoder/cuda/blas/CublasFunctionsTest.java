package io.crosscoder.cuda.blas;

import static org.assertj.core.api.Assertions.assertThat;

import io.crosscoder.cuda.fake.CPrototypes;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodType;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CublasFunctionsTest {

  /** The prototypes as cublas_api.h declares them (CUBLASAPI / CUBLASWINAPI dropped). */
  private static final String CUBLAS_API_H = """
      cublasStatus_t cublasCreate_v2(cublasHandle_t* handle);
      cublasStatus_t cublasDestroy_v2(cublasHandle_t handle);
      cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int* version);
      cublasStatus_t cublasGetProperty(libraryPropertyType type, int* value);
      cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
      cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa,
          cublasOperation_t transb, int m, int n, int k, const float* alpha, const float* A,
          int lda, const float* B, int ldb, const float* beta, float* C, int ldc);
      cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
          cublasOperation_t transb, int m, int n, int k, const void* alpha, const void* A,
          cudaDataType Atype, int lda, const void* B, cudaDataType Btype, int ldb,
          const void* beta, void* C, cudaDataType Ctype, int ldc,
          cublasComputeType_t computeType, cublasGemmAlgo_t algo);
      """;

  @Test
  void descriptorsAreTheHeaderPrototypes() {
    Map<String, FunctionDescriptor> expected = CPrototypes.parse(CUBLAS_API_H);
    assertThat(CublasFunctions.DESCRIPTORS).containsExactlyEntriesOf(expected);
  }

  @Test
  void sgemmHasFourteenArgumentsWithTheScalarsAsPointers() {
    FunctionDescriptor sgemm = CublasFunctions.DESCRIPTORS.get("cublasSgemm_v2");
    MethodType type = sgemm.toMethodType();
    assertThat(type.parameterCount()).isEqualTo(14);
    assertThat(type.returnType()).isEqualTo(int.class);
    // alpha (6) and beta (11) are host pointers, not floats passed by value.
    assertThat(type.parameterType(6)).isEqualTo(java.lang.foreign.MemorySegment.class);
    assertThat(type.parameterType(11)).isEqualTo(java.lang.foreign.MemorySegment.class);
    assertThat(CublasFunctions.DESCRIPTORS.get("cublasGemmEx").toMethodType().parameterCount()).isEqualTo(19);
  }

  @Test
  void theLinkerAcceptsEveryDescriptor() {
    Linker linker = Linker.nativeLinker();
    CublasFunctions.DESCRIPTORS.forEach((name, descriptor) ->
        assertThat(linker.downcallHandle(descriptor).type().parameterCount())
            .as(name).isEqualTo(descriptor.argumentLayouts().size() + 1));
  }
}
