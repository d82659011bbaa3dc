package io.crosscoder.bench;

import io.crosscoder.backend.BackendOptions;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackendProvider;
import io.crosscoder.backend.ComputeBackends;
import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.backend.Kernels;
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
   * made by its provider with {@link BackendOptions#DEFAULTS}.
   *
   * @throws io.crosscoder.CrosscoderException if that backend is missing or unavailable
   */
  static BenchBackend open(String requested) {
    return open(requested, BackendOptions.DEFAULTS);
  }

  /**
   * As {@link #open(String)}, with {@code threads} kernel threads and, on the cpu, OpenBLAS for
   * f32 products when {@code openBlas} (else the Java SGEMM): options given through the provider,
   * which backends without such a choice ignore.
   */
  static BenchBackend open(String requested, int threads, boolean openBlas) {
    return open(requested, BackendOptions.builder().threads(threads)
        .gemm(openBlas ? BackendOptions.Gemm.OPENBLAS : BackendOptions.Gemm.JAVA).build());
  }

  /** The kernels of the backend {@code requested} names, made by its provider with {@code options}. */
  static BenchBackend open(String requested, BackendOptions options) {
    ComputeBackendProvider provider = ComputeBackends.select(requested);
    ComputeBackend backend = provider.create(options);
    try {
      Kernels kernels = backend.kernels();
      return new BenchBackend(provider.name(), kernels.description(), backend, kernels);
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

  /** The kernels' one-line description: the hardware, the code path, threads and GEMM. */
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

  /** Frees the probe buffer and closes the backend, which closes its kernels. */
  @Override
  public void close() {
    probe.close();
    backend.close();
  }
}
