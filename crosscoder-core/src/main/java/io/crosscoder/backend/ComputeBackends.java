package io.crosscoder.backend;

import io.crosscoder.CrosscoderException;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

/**
 * The backend providers on the class path, and selection among them: an explicit name, else the
 * system property {@value #PROPERTY}, else the environment variable {@value #ENVIRONMENT}, else
 * the available provider of highest rank.
 */
public final class ComputeBackends {
  /** System property naming the backend to use. */
  public static final String PROPERTY = "crosscoder.backend";
  /** Environment variable naming the backend to use. */
  public static final String ENVIRONMENT = "CROSSCODER_BACKEND";

  private static final List<ComputeBackendProvider> PROVIDERS =
      ServiceLoader.load(ComputeBackendProvider.class).stream()
          .map(ServiceLoader.Provider::get)
          .sorted(Comparator.comparingInt(ComputeBackendProvider::rank).reversed())
          .toList();

  private ComputeBackends() {}

  /**
   * Every provider found, best rank first.
   *
   * @return an immutable list of the providers found by {@link java.util.ServiceLoader}, possibly
   *     empty
   */
  public static List<ComputeBackendProvider> providers() {
    return PROVIDERS;
  }

  /**
   * The provider to use. {@code explicit} (may be null or blank) wins over the property, which
   * wins over the environment variable.
   *
   * @param explicit a provider's name, any case, or null or blank to fall back to {@value
   *     #PROPERTY}, then {@value #ENVIRONMENT}, then the best available
   * @return the chosen provider, available on this machine
   * @throws io.crosscoder.InvalidInputException if no provider has the name (a bad argument)
   * @throws CrosscoderException if the named provider is unavailable (saying why and which are
   *     available), or if none is available
   */
  public static ComputeBackendProvider select(String explicit) {
    String name = firstNonBlank(explicit, System.getProperty(PROPERTY), System.getenv(ENVIRONMENT));
    if (name != null) {
      String wanted = name.trim().toLowerCase(Locale.ROOT);
      for (ComputeBackendProvider p : PROVIDERS) {
        if (p.name().equals(wanted)) {
          Availability a = p.availability();
          if (!a.available()) {
            throw new CrosscoderException("compute backend '" + wanted + "' is unavailable: " + a.reason()
                + ". " + describeAvailable());
          }
          return p;
        }
      }
      // A name no provider has is a bad argument (exit status 2), not a failure of the machine.
      throw new io.crosscoder.InvalidInputException(null, null, "no compute backend named '" + wanted + "'. "
          + describeAvailable());
    }
    for (ComputeBackendProvider p : PROVIDERS) {
      if (p.isAvailable()) {
        return p;
      }
    }
    throw new CrosscoderException("no compute backend is available. " + describeAvailable()
        + (PROVIDERS.isEmpty() ? " Add crosscoder-cpu to the class path." : ""));
  }

  /**
   * Opens a backend: the provider {@link #select(String)} picks for {@code name} (null or blank:
   * the property, the environment variable, then the best available), made with {@code options}.
   *
   * @param name a provider's name, any case, or null for the automatic choice
   * @param options how the backend runs (threads, GEMM choice, Vector API, TF32)
   * @return a new backend; the caller closes it
   * @throws io.crosscoder.InvalidInputException if no provider has the name
   * @throws CrosscoderException if the provider is unavailable here, or none is
   */
  public static ComputeBackend open(String name, BackendOptions options) {
    java.util.Objects.requireNonNull(options, "options");
    return select(name).create(options);
  }

  /**
   * Opens the automatically chosen backend ({@link #select(String)} with no name) with {@code options}.
   *
   * @param options how the backend runs
   * @return a new backend; the caller closes it
   * @throws CrosscoderException if no backend is available
   */
  public static ComputeBackend open(BackendOptions options) {
    return open(null, options);
  }

  /**
   * The names of the providers on the class path, best rank first.
   *
   * @return an immutable list of the providers' names, possibly empty
   */
  public static List<String> names() {
    return PROVIDERS.stream().map(ComputeBackendProvider::name).toList();
  }

  /**
   * A line listing every provider with its availability and reason.
   *
   * @return one human-readable line for error messages; never null
   */
  public static String describeAvailable() {
    if (PROVIDERS.isEmpty()) {
      return "No compute backend is on the class path.";
    }
    return "Backends: " + PROVIDERS.stream()
        .map(p -> p.name() + " (" + (p.availability().available() ? "available" : "unavailable")
            + ": " + p.availability().reason() + ")")
        .collect(Collectors.joining("; "));
  }

  private static String firstNonBlank(String... values) {
    for (String v : values) {
      if (v != null && !v.isBlank()) {
        return v;
      }
    }
    return null;
  }
}
