/**
 * The compute backend on the CPU: {@link io.crosscoder.cpu.CpuBackendProvider} (name {@code
 * "cpu"}, rank 10, always available) makes {@link io.crosscoder.cpu.CpuBackend}s.
 *
 * <p>The hot loops come in two forms that give the same numbers bit for bit: a Vector API
 * kernel, used when {@link io.crosscoder.cpu.kernels.VectorSupport} (the one probe of the CPU
 * backend, for this pass and the training kernels alike) finds {@code jdk.incubator.vector}, C2
 * and vectors of at least 128 bits, and a scalar kernel otherwise (or with {@link
 * io.crosscoder.backend.BackendOptions.Builder#vectorApi vectorApi(false)} or {@code
 * -Dcrosscoder.cpu.vector=false}). The probe follows Lucene's {@code VectorizationProvider}: the
 * vector classes are loaded by name only after the module is found, so a JVM without it never
 * links them, and one log line says how to turn the fast path on.
 *
 * <p>Plain f32, f16 and bf16 tensors are read straight from their memory-mapped segments, the
 * narrow formats widened to f32 in vector lanes (a pair of two different types is widened a block
 * at a time); every other dtype, quantized and transposed tensors go through {@link
 * io.crosscoder.tensor.TensorView}'s readers into bounded per-thread scratch. How sums are
 * blocked, accumulated and made exact where they overflow is described on {@link
 * io.crosscoder.cpu.CpuBackend}.
 */
package io.crosscoder.cpu;
