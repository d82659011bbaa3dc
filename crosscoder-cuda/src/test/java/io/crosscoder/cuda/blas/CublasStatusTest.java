package io.crosscoder.cuda.blas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.CrosscoderException;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CublasStatusTest {

  /** cublasStatus_t as printed in cublas_api.h and NVIDIA's nvmath-python Status reference. */
  private static final Map<Integer, String> DOCUMENTED = Map.of(
      0, "CUBLAS_STATUS_SUCCESS",
      1, "CUBLAS_STATUS_NOT_INITIALIZED",
      3, "CUBLAS_STATUS_ALLOC_FAILED",
      7, "CUBLAS_STATUS_INVALID_VALUE",
      8, "CUBLAS_STATUS_ARCH_MISMATCH",
      11, "CUBLAS_STATUS_MAPPING_ERROR",
      13, "CUBLAS_STATUS_EXECUTION_FAILED",
      14, "CUBLAS_STATUS_INTERNAL_ERROR",
      15, "CUBLAS_STATUS_NOT_SUPPORTED",
      16, "CUBLAS_STATUS_LICENSE_ERROR");

  @Test
  void namesEveryDocumentedStatus() {
    DOCUMENTED.forEach((code, name) -> assertThat(CublasStatus.name(code)).as("status %d", code).isEqualTo(name));
  }

  @Test
  void namesUnknownStatusesReadably() {
    for (int code : new int[] {2, 4, 5, 6, 9, 10, 12, 17, -1, 268435457}) {
      assertThat(CublasStatus.name(code)).isEqualTo("unknown cuBLAS status " + code);
    }
  }

  @Test
  void successPassesAndFailureNamesCallStatusAndArguments() {
    CublasStatus.check(0, "cublasSgemm_v2", "m=1");
    assertThatThrownBy(() -> CublasStatus.check(7, "cublasSgemm_v2", "m=2, n=3, k=4, lda=2"))
        .isInstanceOf(CrosscoderException.class)
        .hasMessage("cublasSgemm_v2(m=2, n=3, k=4, lda=2) failed: CUBLAS_STATUS_INVALID_VALUE (7)");
    assertThatThrownBy(() -> CublasStatus.check(1, "cublasCreate_v2", "handle=&out"))
        .hasMessageStartingWith("cublasCreate_v2(handle=&out) failed: CUBLAS_STATUS_NOT_INITIALIZED (1);")
        .hasMessageContaining("CUDA context current");
  }

  @Test
  void decodesTheCublasVersionMacro() {
    // CUBLAS_VERSION = MAJOR * 10000 + MINOR * 100 + PATCH (cublas_api.h).
    assertThat(CublasEnums.version(12 * 10000 + 6 * 100 + 4)).isEqualTo("12.6.4");
    assertThat(CublasEnums.version(13 * 10000 + 0 * 100 + 2)).isEqualTo("13.0.2");
    assertThat(CublasEnums.version(11 * 10000 + 11 * 100 + 3)).isEqualTo("11.11.3");
    assertThat(CublasEnums.version(0)).isEqualTo("unknown version (0)");
  }

  @Test
  void enumValuesAreTheHeaders() {
    // cublas_api.h / library_types.h values, see CublasEnums for the sources.
    assertThat(CublasEnums.operation(false)).isEqualTo(0);
    assertThat(CublasEnums.operation(true)).isEqualTo(1);
    assertThat(CublasEnums.CUDA_R_32F).isEqualTo(0);
    assertThat(CublasEnums.CUDA_R_16BF).isEqualTo(14);
    assertThat(CublasEnums.CUBLAS_COMPUTE_32F).isEqualTo(68);
    assertThat(CublasEnums.CUBLAS_GEMM_DEFAULT).isEqualTo(-1);
    assertThat(CublasEnums.CUBLAS_DEFAULT_MATH).isEqualTo(0);
    assertThat(CublasEnums.CUBLAS_TF32_TENSOR_OP_MATH).isEqualTo(3);
  }

  @Test
  void enumValuesMatchJCuda() {
    // A second, independent transcription of the same headers.
    assertThat(CublasEnums.CUBLAS_OP_N).isEqualTo(jcuda.jcublas.cublasOperation.CUBLAS_OP_N);
    assertThat(CublasEnums.CUBLAS_OP_T).isEqualTo(jcuda.jcublas.cublasOperation.CUBLAS_OP_T);
    assertThat(CublasEnums.CUDA_R_32F).isEqualTo(jcuda.cudaDataType.CUDA_R_32F);
    assertThat(CublasEnums.CUDA_R_16BF).isEqualTo(jcuda.cudaDataType.CUDA_R_16BF);
    assertThat(CublasEnums.CUBLAS_COMPUTE_32F).isEqualTo(jcuda.jcublas.cublasComputeType.CUBLAS_COMPUTE_32F);
    assertThat(CublasEnums.CUBLAS_GEMM_DEFAULT).isEqualTo(jcuda.jcublas.cublasGemmAlgo.CUBLAS_GEMM_DEFAULT);
    assertThat(CublasEnums.CUBLAS_DEFAULT_MATH).isEqualTo(jcuda.jcublas.cublasMath.CUBLAS_DEFAULT_MATH);
    assertThat(CublasEnums.CUBLAS_TF32_TENSOR_OP_MATH).isEqualTo(jcuda.jcublas.cublasMath.CUBLAS_TF32_TENSOR_OP_MATH);
    for (int code : new int[] {0, 1, 3, 7, 8, 11, 13, 14, 15}) {
      assertThat(CublasStatus.name(code)).isEqualTo(jcuda.jcublas.cublasStatus.stringFor(code));
    }
  }
}
