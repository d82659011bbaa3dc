package io.crosscoder.cpu;

import io.crosscoder.backend.Availability;
import io.crosscoder.backend.BackendOptions;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackendProvider;

/**
 * Provides {@link CpuBackend}: name {@code "cpu"}, rank 10, available on every machine. The reason
 * in {@link #availability()} says which path a backend made now would take: {@code "Vector API,
 * 512-bit lanes"}, or {@code "scalar: ..."} with why (the module {@code jdk.incubator.vector} not
 * readable, a vector narrower than 128 bits, or {@code -Dcrosscoder.cpu.vector=false}).
 *
 * <p>Found by {@link java.util.ServiceLoader}. The Vector API probe ({@link
 * io.crosscoder.cpu.kernels.VectorSupport}) runs once per JVM, on first use; the options, and the
 * system properties behind the unset ones, are read by each {@link #create(BackendOptions)}.
 */
public final class CpuBackendProvider implements ComputeBackendProvider {
  /** Called by {@link java.util.ServiceLoader}. */
  public CpuBackendProvider() {}

  /** {@code "cpu"}. */
  @Override
  public String name() {
    return "cpu";
  }

  /** 10: below accelerators, which rank higher. */
  @Override
  public int rank() {
    return 10;
  }

  /** Always available; the reason names the code path a backend made now with the default options would take. */
  @Override
  public Availability availability() {
    Vectorization.Probe probe = Vectorization.probe();
    if (probe.vector().isPresent() && !BackendOptions.DEFAULTS.vectorApiOrDefault()) {
      return Availability.available("scalar: " + Vectorization.forcedReason(BackendOptions.DEFAULTS));
    }
    return Availability.available(probe.vector().map(PairKernel::description).orElse("scalar: " + probe.whyNot()));
  }

  /**
   * A new backend: its pair pass on the Vector API unless unusable or turned off ({@link
   * BackendOptions#vectorApiOrDefault()}), its training kernels with {@link
   * BackendOptions#threadsOrDefault()} threads and the GEMM of {@link BackendOptions#gemmOrDefault()}.
   * TF32 is ignored. The caller closes it.
   *
   * @throws io.crosscoder.CrosscoderException if {@link BackendOptions.Gemm#OPENBLAS} is asked for and
   *     OpenBLAS cannot be loaded (when the training kernels are first used)
   */
  @Override
  public ComputeBackend create(BackendOptions options) {
    java.util.Objects.requireNonNull(options, "options");
    return new CpuBackend(Vectorization.kernel(options), options);
  }
}
