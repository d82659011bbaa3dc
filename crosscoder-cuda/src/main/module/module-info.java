/**
 * The CUDA compute backend of the crosscoder library: cuBLAS for the products (through JCublas or
 * the foreign-function API), kernels compiled at run time with NVRTC, and the CUDA driver. Found
 * as the {@link io.crosscoder.backend.ComputeBackendProvider} named {@code "cuda"}, which reports
 * itself unavailable, with the reason, on a machine without a driver or a GPU.
 *
 * <p>Only {@code io.crosscoder.cuda} is API; the driver, BLAS and kernel packages are internal.
 */
module io.crosscoder.cuda {
  requires transitive io.crosscoder.core;
  requires jcuda;
  requires jcublas;

  exports io.crosscoder.cuda;

  provides io.crosscoder.backend.ComputeBackendProvider with io.crosscoder.cuda.CudaBackendProvider;
}
