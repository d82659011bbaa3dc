package io.crosscoder.backend;

/**
 * SPI: makes {@link ComputeBackend}s of one kind. Found with {@link java.util.ServiceLoader}
 * ({@code META-INF/services/io.crosscoder.backend.ComputeBackendProvider}); needs a public
 * no-argument constructor and must load, without throwing, on machines that lack its hardware.
 */
public interface ComputeBackendProvider {
  /**
   * Short lower-case name used to select it: {@code "cpu"}, {@code "cuda"}.
   *
   * @return the provider's name, lower case, unique among the providers
   */
  String name();

  /**
   * Preference among available providers; higher wins (cpu 10, cuda 100).
   *
   * @return the preference rank; the available provider with the highest is chosen by default
   */
  int rank();

  /**
   * Whether it can work here, and if not why; cheap after the first call.
   *
   * @return whether a backend can be created on this machine, with the reason when it cannot
   */
  Availability availability();

  /**
   * Whether it can work here, as {@link #availability()} says, for the automatic choice, which
   * needs no reason. A provider may answer this without wording why it cannot work where that
   * is cheaper (the CUDA provider, on a machine without an NVIDIA driver, answers from one failed
   * library lookup instead of also asking the dynamic loader for its message).
   *
   * @return {@code availability().available()}
   */
  default boolean isAvailable() {
    return availability().available();
  }

  /**
   * Makes a backend that runs as {@code options} say; callers close it. Only called when {@link
   * #availability()} is available. Options this kind of backend has no use for are ignored; an
   * unset option falls back to its system property (see {@link BackendOptions}).
   *
   * @param options how to run: threads, GEMM choice, Vector API, TF32
   * @return a new backend, owned by the caller
   */
  ComputeBackend create(BackendOptions options);

  /**
   * Makes a backend with {@link BackendOptions#DEFAULTS} (the system properties, else the built-in
   * defaults); callers close it.
   *
   * @return a new backend, owned by the caller
   */
  default ComputeBackend create() {
    return create(BackendOptions.DEFAULTS);
  }
}
