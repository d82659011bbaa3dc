/**
 * The compute backend on NVIDIA GPUs: {@link io.crosscoder.cuda.CudaBackendProvider} (found by
 * {@link java.util.ServiceLoader}, rank 100, unavailable with a reason on machines without a
 * driver, a GPU, cuBLAS or the kernels) and {@link io.crosscoder.cuda.CudaBackend}. The driver
 * layer is in {@link io.crosscoder.cuda.driver}, the training kernels in {@link
 * io.crosscoder.cuda.kernels}, the cuBLAS bindings in {@link io.crosscoder.cuda.blas}, and the
 * run-time compiler binding in {@link io.crosscoder.cuda.nvrtc}.
 */
package io.crosscoder.cuda;
