package io.crosscoder.backend;

import io.crosscoder.CrosscoderException;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * Which compute backend a {@link io.crosscoder.ModelDiffer}, a {@link
 * io.crosscoder.crosscoder.CrosscoderTraining} or a {@link io.crosscoder.lineage.LineageFinder}
 * runs on: chosen automatically, by provider name, or a backend the caller opened. The first two
 * carry the {@link BackendOptions} the backend is opened with.
 *
 * <ul>
 *   <li>{@link #auto()}: the system property {@value ComputeBackends#PROPERTY}, else the
 *       environment variable {@value ComputeBackends#ENVIRONMENT}, else the available provider of
 *       highest rank ({@link ComputeBackends#select(String)}).
 *   <li>{@link #named(String)}: that provider; the name is checked against the providers on the
 *       class path at once ({@link IllegalArgumentException} listing them), and whether it can run
 *       on this machine by {@link #check()}, which the builders call in {@code build()}. The
 *       automatic choice is resolved when the backend is opened.
 *   <li>{@link #of(ComputeBackend)}: that open backend. The caller owns it and closes it after the
 *       last use; whoever uses the choice never closes it.
 * </ul>
 *
 * <p><b>Ownership.</b> {@link #open()} gives the instance of {@link #of} as it is, and otherwise a
 * new backend that the caller of {@code open()} closes; {@link #ownsOpened()} tells which.
 *
 * <p>An immutable value; thread-safe.
 */
public final class BackendChoice {
  private static final BackendChoice AUTO = new BackendChoice(null, null, BackendOptions.DEFAULTS);

  private final String name;
  private final ComputeBackend instance;
  private final BackendOptions options;

  private BackendChoice(String name, ComputeBackend instance, BackendOptions options) {
    this.name = name;
    this.instance = instance;
    this.options = options;
  }

  /** {@return the automatic choice, with {@link BackendOptions#DEFAULTS}} */
  public static BackendChoice auto() {
    return AUTO;
  }

  /**
   * The provider of this name, with {@link BackendOptions#DEFAULTS}.
   *
   * @param name the provider's name ({@code "cpu"}, {@code "cuda"}), any case, surrounding blanks ignored
   * @return the choice
   * @throws IllegalArgumentException if the name is blank or no provider on the class path has it
   *     (the message lists the providers and their availability)
   */
  public static BackendChoice named(String name) {
    Objects.requireNonNull(name, "name");
    if (name.isBlank()) {
      throw new IllegalArgumentException("backend name is blank. " + ComputeBackends.describeAvailable());
    }
    String wanted = name.trim().toLowerCase(Locale.ROOT);
    if (!ComputeBackends.names().contains(wanted)) {
      throw new IllegalArgumentException("no compute backend named '" + name.trim() + "'. "
          + ComputeBackends.describeAvailable());
    }
    return new BackendChoice(wanted, null, BackendOptions.DEFAULTS);
  }

  /**
   * This open backend. The caller keeps ownership and closes it after the last use.
   *
   * @param backend an open backend
   * @return the choice
   */
  public static BackendChoice of(ComputeBackend backend) {
    return new BackendChoice(null, Objects.requireNonNull(backend, "backend"), null);
  }

  /**
   * This choice, opening its backend with {@code newOptions}.
   *
   * @param newOptions how the backend is to run
   * @return the choice with these options
   * @throws IllegalStateException for a choice {@linkplain #of of an open backend}, which was
   *     made with its own options
   */
  public BackendChoice withOptions(BackendOptions newOptions) {
    Objects.requireNonNull(newOptions, "options");
    if (instance != null) {
      throw new IllegalStateException("the backend " + instance.name() + " is already open; options apply to a"
          + " backend chosen by name or automatically (give them to ComputeBackends.open instead)");
    }
    return new BackendChoice(name, null, newOptions);
  }

  /** {@return the provider's name when chosen by name, lower case} */
  public Optional<String> name() {
    return Optional.ofNullable(name);
  }

  /** {@return the backend given, when chosen as an open backend} */
  public Optional<ComputeBackend> instance() {
    return Optional.ofNullable(instance);
  }

  /** {@return the options the backend is opened with; empty for an open backend} */
  public Optional<BackendOptions> options() {
    return Optional.ofNullable(options);
  }

  /** {@return whether this is the automatic choice} */
  public boolean isAuto() {
    return name == null && instance == null;
  }

  /**
   * {@return whether {@link #open()} makes a new backend that its caller must close} (false for
   * {@link #of}, whose backend its owner closes)
   */
  public boolean ownsOpened() {
    return instance == null;
  }

  /**
   * Checks, without opening anything, that a backend chosen by name can run here (its provider is
   * available). The automatic choice is resolved only when opened, since the property and the
   * environment variable it reads may name another backend until then; an open backend passes.
   *
   * @throws CrosscoderException if the named backend is unavailable on this machine (saying why,
   *     and which are available)
   */
  public void check() {
    if (name != null) {
      ComputeBackends.select(name);
    }
  }

  /**
   * The backend: the instance of {@link #of}, which stays its owner's, or a new one opened with
   * {@link #options()}, which the caller closes (see {@link #ownsOpened()}).
   *
   * @return the backend
   * @throws CrosscoderException if the chosen backend is unavailable or cannot be opened
   */
  public ComputeBackend open() {
    return instance != null ? instance : ComputeBackends.open(name, options);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof BackendChoice c && Objects.equals(name, c.name) && instance == c.instance
        && Objects.equals(options, c.options);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, System.identityHashCode(instance), options);
  }

  /** {@code "auto"}, {@code "cpu"} or {@code "instance of cpu"}, with the options set if any. */
  @Override
  public String toString() {
    if (instance != null) {
      return "instance of " + instance.name();
    }
    String what = name == null ? "auto" : name;
    return options.equals(BackendOptions.DEFAULTS) ? what : what + " " + options;
  }
}
