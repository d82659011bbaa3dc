/**
 * The training kernels on the CPU: {@link io.crosscoder.cpu.kernels.CpuKernels} implements
 * {@link io.crosscoder.backend.Kernels} over off-heap buffers, with a {@link
 * io.crosscoder.cpu.kernels.WorkerPool} of its own threads.
 *
 * <p>Streaming kernels (element-wise, reductions, Adam) come in a Vector API form and a plain-Java
 * form; {@link io.crosscoder.cpu.kernels.VectorSupport} decides once per JVM which can run (the
 * same probe as the CPU backend's pair pass), loading the vector classes by name only after {@code
 * jdk.incubator.vector} was found readable; {@link io.crosscoder.cpu.kernels.CpuKernels#of} uses it
 * unless the backend's options turn it off.
 * Products go to {@link io.crosscoder.cpu.gemm.Sgemm} (or to OpenBLAS, {@link
 * io.crosscoder.cpu.blas.OpenBlas}, when asked for); selection kernels (top-k per row and over a
 * batch) compare {@link Float#compare}-ordered integer keys so that ties break the same way on
 * every backend.
 */
package io.crosscoder.cpu.kernels;
