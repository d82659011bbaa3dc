package io.crosscoder.bench;

import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackendProvider;
import io.crosscoder.backend.ComputeBackends;
import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.backend.Kernels;
import io.crosscoder.cpu.kernels.CpuKernels;
import io.crosscoder.tensor.DType;

/**
 * The {@link Kernels} a throughput harness measures, on a backend chosen by name as {@link
 * ComputeBackends#select} chooses (an explicit name, else {@code -Dcrosscoder.backend}, else
 * {@code CROSSCODER_BACKEND}, else the available provider of highest rank: cuda where it works,
 * else cpu), and the object that owns them.
 *
 * <p>Timing an asynchronous backend (a GPU) needs a point where the host waits for the device:
 * {@link #synchronize()} downloads one element of a buffer of its own, which by the {@link
 * Kernels} ordering contract returns only after every earlier call of the calling thread is done.
 * Not thread-safe; the harness closes it, which closes the kernels and the backend.
 */
final class BenchBackend implements AutoCloseable {
  private final String name;
  private final String description;
  private final ComputeBackend backend;
  private final Kernels kernels;
  private final DeviceBuffer probe;
  private final float[] probeHost = new float[1];

  private BenchBackend(String name, String description, ComputeBackend backend, Kernels kernels) {
    this.name = name;
    this.description = description;
    this.backend = backend;
    this.kernels = kernels;
    this.probe = kernels.allocate(DType.F32, 1);
  }

  /**
   * The kernels of the backend {@code requested} names (null or blank: the default selection),
   * made by its provider.
   *
   * @throws io.crosscoder.CrosscoderException if that backend is missing or unavailable
   */
  static BenchBackend open(String requested) {
    return of(ComputeBackends.select(requested));
  }

  /**
   * As {@link #open(String)}, except that the cpu backend is built directly as {@code new
   * CpuKernels(threads, true, openBlas)} so that a harness can choose its threads and OpenBLAS;
   * the other backends ignore both.
   */
  static BenchBackend open(String requested, int threads, boolean openBlas) {
    ComputeBackendProvider provider = ComputeBackends.select(requested);
    if (provider.name().equals("cpu")) {
      CpuKernels cpu = new CpuKernels(threads, true, openBlas);
      try {
        return new BenchBackend("cpu", cpu.description(), null, cpu);
      } catch (RuntimeException e) {
        cpu.close();
        throw e;
      }
    }
    return of(provider);
  }

  /** The kernels of a backend made by {@code provider}. */
  private static BenchBackend of(ComputeBackendProvider provider) {
    ComputeBackend backend = provider.create();
    try {
      return new BenchBackend(provider.name(), backend.description(), backend, backend.kernels());
    } catch (RuntimeException e) {
      backend.close();
      throw e;
    }
  }

  /** The provider's name: {@code "cpu"}, {@code "cuda"}. */
  String name() {
    return name;
  }

  /** Whether the kernels return when their work is done (the CPU), so per-call timing is meaningful. */
  boolean synchronous() {
    return name.equals("cpu");
  }

  /** The backend's one-line description (for the cpu built directly, the kernels' description). */
  String description() {
    return description;
  }

  /** The kernels; owned by this object. */
  Kernels kernels() {
    return kernels;
  }

  /** Returns once every kernel call this thread made before is complete (one-element download). */
  void synchronize() {
    kernels.download(probe, 0, probeHost, 0, 1);
  }

  /** Frees the probe buffer and closes the backend (or the cpu kernels built directly). */
  @Override
  public void close() {
    probe.close();
    if (backend != null) {
      backend.close();
    } else {
      kernels.close();
    }
  }
}
