/**
 * The CPU compute backend of the crosscoder library: fused weight-diff passes and the training
 * kernels on the Vector API (scalar Java where it is absent), a packed, blocked SGEMM, and
 * OpenBLAS through the foreign-function API where it is installed. Found as the
 * {@link io.crosscoder.backend.ComputeBackendProvider} named {@code "cpu"}.
 *
 * <p>Only {@code io.crosscoder.cpu} is API; the kernel, GEMM and BLAS packages are internal.
 */
module io.crosscoder.cpu {
  requires transitive io.crosscoder.core;
  requires jdk.incubator.vector;
  requires jdk.management;

  exports io.crosscoder.cpu;

  provides io.crosscoder.backend.ComputeBackendProvider with io.crosscoder.cpu.CpuBackendProvider;
}
