package io.crosscoder.cuda;

import io.crosscoder.CrosscoderException;
import io.crosscoder.backend.Availability;
import io.crosscoder.backend.BackendOptions;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackendProvider;
import io.crosscoder.cuda.blas.CublasLoader;
import io.crosscoder.cuda.driver.CudaContext;
import io.crosscoder.cuda.driver.CudaProbe;
import io.crosscoder.cuda.driver.KernelModule;
import java.util.Optional;

/**
 * Provides {@link CudaBackend}: name {@code "cuda"}, rank 100, so that a working GPU is chosen
 * over the CPU. Available when four things hold, checked in this order without touching the GPU
 * (no context is made): JCuda's driver binding loads (an NVIDIA driver is installed), the driver
 * sees a GPU ({@code -Dcrosscoder.cuda.device=N} picks one, default 0), cuBLAS loads (through
 * JCublas for CUDA 12's {@code libcublas.so.12}, or through the FFM API for {@code
 * libcublas.so.13} or {@code .12}; {@code -Dcrosscoder.cuda.blas=jcublas|ffm} forces one), and the
 * kernels can be had (PTX in the jar, or NVRTC). Otherwise {@link #availability()} names the first
 * that fails, and {@link io.crosscoder.backend.ComputeBackends} picks the CPU.
 *
 * <p>The probe runs once per JVM, on first use, and is cached.
 */
public final class CudaBackendProvider implements ComputeBackendProvider {
  /** System property choosing the cuBLAS binding: {@code auto} (default), {@code jcublas} or {@code ffm}. */
  public static final String BLAS_PROPERTY = "crosscoder.cuda.blas";

  private static volatile Probe probe;

  /** Called by {@link java.util.ServiceLoader}. */
  public CudaBackendProvider() {}

  /** {@code "cuda"}. */
  @Override
  public String name() {
    return "cuda";
  }

  /** 100: above the CPU's 10. */
  @Override
  public int rank() {
    return 100;
  }

  @Override
  public Availability availability() {
    return probe().availability;
  }

  /**
   * Without an NVIDIA driver (the dynamic loader does not find {@code libcuda.so.1}), false from
   * that lookup alone, without running the probe, whose reason would ask the loader why; otherwise
   * {@code availability().available()}.
   */
  @Override
  public boolean isAvailable() {
    Probe p = probe;
    if (p == null && CudaProbe.findDriver().library().isEmpty()) {
      return false;
    }
    return availability().available();
  }

  /**
   * A backend on the probed GPU, its f32 products on TF32 tensor cores when {@link
   * BackendOptions#tf32OrDefault()} says so (other options do not apply to it); the caller closes it.
   *
   * @throws CrosscoderException if the GPU is unavailable (with the reason) or cannot be opened
   */
  @Override
  public ComputeBackend create(BackendOptions options) {
    java.util.Objects.requireNonNull(options, "options");
    Probe p = probe();
    if (!p.availability.available()) {
      throw new CrosscoderException("compute backend 'cuda' is unavailable: " + p.availability.reason());
    }
    KernelModule kernels = KernelModule.load(p.device.major(), p.device.minor());
    CudaContext context = CudaContext.open(p.device, kernels);
    try {
      return new CudaBackend(context, p.blas::create, p.blas.description(), options);
    } catch (RuntimeException e) {
      context.close();
      throw e;
    }
  }

  private static Probe probe() {
    Probe p = probe;
    if (p == null) {
      synchronized (CudaBackendProvider.class) {
        p = probe;
        if (p == null) {
          p = Probe.run();
          probe = p;
        }
      }
    }
    return p;
  }

  /** What the probe found: the device, the cuBLAS binding, and the resulting availability. */
  private record Probe(CudaProbe device, CublasLoader.Loaded blas, Availability availability) {
    static Probe run() {
      int ordinal = Integer.getInteger(CudaContext.DEVICE_PROPERTY, 0);
      CudaProbe device = CudaProbe.run(ordinal);
      if (!device.usable()) {
        return new Probe(device, null, Availability.unavailable(device.reason()));
      }
      CublasLoader.Loaded blas = CublasLoader.load(System.getProperty(BLAS_PROPERTY, "auto"));
      if (!blas.available()) {
        return new Probe(device, blas, Availability.unavailable(device.deviceName() + " found, but " + blas.description()));
      }
      Optional<String> noKernels = KernelModule.unavailableReason();
      if (noKernels.isPresent()) {
        return new Probe(device, blas, Availability.unavailable(device.deviceName() + " found, but " + noKernels.get()));
      }
      return new Probe(device, blas, Availability.available(device.reason() + "; " + blas.description()));
    }
  }
}
