package io.crosscoder.backend;

import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * How a compute backend should run, passed to {@link ComputeBackendProvider#create(BackendOptions)}
 * (usually through {@link ComputeBackends#open(String, BackendOptions)} or a {@link
 * BackendChoice}): worker threads for its kernels, which GEMM the CPU uses, whether the CPU may
 * use the Vector API, and whether CUDA may run f32 products on TF32 tensor cores.
 *
 * <p>Each option is either set here or left unset; an unset option falls back to its system
 * property (so {@code -Dcrosscoder.cuda.tf32=true} and the like keep working for the command
 * line), then to the built-in default. {@link #DEFAULTS} sets nothing. A provider reads the options
 * it understands and ignores the rest (the CUDA backend has no GEMM choice; the CPU no TF32).
 *
 * <pre>{@code
 * try (ComputeBackend cpu = ComputeBackends.open("cpu",
 *     BackendOptions.builder().threads(4).gemm(BackendOptions.Gemm.JAVA).build())) { ... }
 * }</pre>
 *
 * <p>An immutable value; thread-safe.
 */
public final class BackendOptions {
  /** System property for {@link #vectorApi()} when unset: {@code false} turns the Vector API off. */
  public static final String VECTOR_PROPERTY = "crosscoder.cpu.vector";
  /**
   * System property for {@link #gemm()} when unset: {@code false} means {@link Gemm#JAVA}; any other
   * value (or none) {@link Gemm#AUTO}. A path or library name in it also tells where OpenBLAS is.
   */
  public static final String OPENBLAS_PROPERTY = "crosscoder.cpu.openblas";
  /** System property for {@link #tf32()} when unset: {@code true} allows TF32. */
  public static final String TF32_PROPERTY = "crosscoder.cuda.tf32";

  /** Nothing set: every option from its system property, else its built-in default. */
  public static final BackendOptions DEFAULTS = new BackendOptions(0, null, null, null);

  /** Which implementation runs f32 matrix products on the CPU. */
  public enum Gemm {
    /** OpenBLAS's {@code cblas_sgemm} when it can be loaded, else the Java SGEMM. */
    AUTO,
    /** The project's Java SGEMM (packed, blocked, Vector API micro-kernel), whatever is installed. */
    JAVA,
    /** OpenBLAS; opening the backend fails, saying how to install it, when it cannot be loaded. */
    OPENBLAS
  }

  private final int threads;
  private final Gemm gemm;
  private final Boolean vectorApi;
  private final Boolean tf32;

  private BackendOptions(int threads, Gemm gemm, Boolean vectorApi, Boolean tf32) {
    this.threads = threads;
    this.gemm = gemm;
    this.vectorApi = vectorApi;
    this.tf32 = tf32;
  }

  /** {@return a builder with nothing set} */
  public static Builder builder() {
    return new Builder();
  }

  /** {@return a builder starting from these options} */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.threads = threads;
    b.gemm = gemm;
    b.vectorApi = vectorApi;
    b.tf32 = tf32;
    return b;
  }

  /**
   * {@return the threads a backend's kernels use per call, counting the caller, when set}; unset:
   * {@link Runtime#availableProcessors()}.
   */
  public OptionalInt threads() {
    return threads == 0 ? OptionalInt.empty() : OptionalInt.of(threads);
  }

  /** {@return the threads to use: {@link #threads()} if set, else {@link Runtime#availableProcessors()}} */
  public int threadsOrDefault() {
    return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
  }

  /** {@return the CPU's GEMM choice as set, if set} */
  public Optional<Gemm> gemm() {
    return Optional.ofNullable(gemm);
  }

  /**
   * {@return the CPU's GEMM: as set, else {@link Gemm#JAVA} when {@value #OPENBLAS_PROPERTY} is
   * {@code false}, else {@link Gemm#AUTO}} The property is read now.
   */
  public Gemm gemmOrDefault() {
    if (gemm != null) {
      return gemm;
    }
    return "false".equalsIgnoreCase(System.getProperty(OPENBLAS_PROPERTY, "").trim()) ? Gemm.JAVA : Gemm.AUTO;
  }

  /** {@return whether the CPU may use the Vector API, if set} */
  public Optional<Boolean> vectorApi() {
    return Optional.ofNullable(vectorApi);
  }

  /**
   * {@return whether the CPU may use the Vector API: as set, else false when {@value
   * #VECTOR_PROPERTY} is {@code false}, else true} (it is used only where the JVM supports it). The
   * property is read now.
   */
  public boolean vectorApiOrDefault() {
    if (vectorApi != null) {
      return vectorApi;
    }
    return !"false".equalsIgnoreCase(System.getProperty(VECTOR_PROPERTY, "").trim());
  }

  /** {@return whether CUDA may run f32 products on TF32 tensor cores, if set} */
  public Optional<Boolean> tf32() {
    return Optional.ofNullable(tf32);
  }

  /**
   * {@return whether CUDA may use TF32: as set, else whether {@value #TF32_PROPERTY} is {@code
   * true}} (default false: IEEE f32 products). The property is read now.
   */
  public boolean tf32OrDefault() {
    return tf32 != null ? tf32 : Boolean.getBoolean(TF32_PROPERTY);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof BackendOptions b && threads == b.threads && gemm == b.gemm
        && Objects.equals(vectorApi, b.vectorApi) && Objects.equals(tf32, b.tf32);
  }

  @Override
  public int hashCode() {
    return Objects.hash(threads, gemm, vectorApi, tf32);
  }

  /** The options set, e.g. {@code "BackendOptions[threads=4, gemm=JAVA]"}; {@code "BackendOptions[]"} for none. */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("BackendOptions[");
    String sep = "";
    if (threads != 0) {
      sb.append("threads=").append(threads);
      sep = ", ";
    }
    if (gemm != null) {
      sb.append(sep).append("gemm=").append(gemm);
      sep = ", ";
    }
    if (vectorApi != null) {
      sb.append(sep).append("vectorApi=").append(vectorApi);
      sep = ", ";
    }
    if (tf32 != null) {
      sb.append(sep).append("tf32=").append(tf32);
    }
    return sb.append(']').toString();
  }

  /** Builds {@link BackendOptions}; each setter checks its argument at once, the last call wins. Not thread-safe. */
  public static final class Builder {
    private int threads;
    private Gemm gemm;
    private Boolean vectorApi;
    private Boolean tf32;

    private Builder() {}

    /**
     * Threads per kernel call, counting the caller (the CPU backend's worker pool).
     *
     * @param n at least 1
     * @return this builder
     * @throws IllegalArgumentException if {@code n < 1}
     */
    public Builder threads(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("threads must be at least 1, got " + n);
      }
      this.threads = n;
      return this;
    }

    /**
     * Which GEMM the CPU runs f32 products with.
     *
     * @param choice the GEMM
     * @return this builder
     */
    public Builder gemm(Gemm choice) {
      this.gemm = Objects.requireNonNull(choice, "gemm");
      return this;
    }

    /**
     * Whether the CPU may use the Vector API ({@code false} forces the plain-Java kernels, as for
     * a comparison); it is used only where the JVM supports it.
     *
     * @param on whether to allow it
     * @return this builder
     */
    public Builder vectorApi(boolean on) {
      this.vectorApi = on;
      return this;
    }

    /**
     * Whether CUDA may run f32 products on TF32 tensor cores (10 mantissa bits in the products).
     *
     * @param on whether to allow it
     * @return this builder
     */
    public Builder tf32(boolean on) {
      this.tf32 = on;
      return this;
    }

    /** {@return the options} */
    public BackendOptions build() {
      return new BackendOptions(threads, gemm, vectorApi, tf32);
    }
  }
}
