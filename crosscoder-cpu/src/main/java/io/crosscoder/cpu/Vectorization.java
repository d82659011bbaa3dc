package io.crosscoder.cpu;

import io.crosscoder.backend.BackendOptions;
import io.crosscoder.cpu.kernels.VectorSupport;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Optional;

/**
 * The pair-pass kernel that {@link VectorSupport}'s probe allows: {@link VectorPairKernel} when the
 * Vector API is usable, loaded by name only then (so a JVM without the module never links it),
 * else {@link ScalarPairKernel}. The capability rule itself lives in {@link VectorSupport} alone;
 * whether a backend uses the vector kernel is its {@link BackendOptions}' choice.
 */
final class Vectorization {
  /** System property; {@code false} forces the scalar kernel where the options do not say. */
  static final String PROPERTY = BackendOptions.VECTOR_PROPERTY;
  /** Lanes of the scalar kernel when no vector width is known: a 256-bit machine's count. */
  static final int DEFAULT_SCALAR_LANES = 16;

  /**
   * What the probe allows for the pair pass.
   *
   * @param vector the vector kernel, when usable
   * @param lanes accumulator lanes for the scalar kernel, equal to the vector kernel's when known
   * @param whyNot why the vector kernel is not usable, when it is not
   */
  record Probe(Optional<PairKernel> vector, int lanes, String whyNot) {}

  private Vectorization() {}

  /** The probe's result, computed on first use. */
  static Probe probe() {
    return Holder.PROBE;
  }

  /**
   * The kernel for a backend made with {@code options}: the vector one unless it is unusable or the
   * options (or the property) turn it off.
   */
  static PairKernel kernel(BackendOptions options) {
    Probe p = probe();
    if (!options.vectorApiOrDefault()) {
      return new ScalarPairKernel(p.lanes(), forcedReason(options));
    }
    return p.vector().orElseGet(() -> new ScalarPairKernel(p.lanes(), p.whyNot()));
  }

  /** Why the scalar kernel was chosen although the vector one could run. */
  static String forcedReason(BackendOptions options) {
    return options.vectorApi().isPresent() ? "forced by BackendOptions.vectorApi(false)"
        : "forced by -D" + PROPERTY + "=false";
  }

  private static Probe lookup() {
    VectorSupport.Probe support = VectorSupport.get();
    if (!support.usable()) {
      return new Probe(Optional.empty(), DEFAULT_SCALAR_LANES, support.reason());
    }
    try {
      MethodHandles.Lookup lookup = MethodHandles.lookup();
      Class<?> type = lookup.findClass(Vectorization.class.getPackageName() + ".VectorPairKernel");
      PairKernel kernel = (PairKernel) lookup.findConstructor(type, MethodType.methodType(void.class)).invoke();
      return new Probe(Optional.of(kernel), kernel.lanes(), "");
    } catch (UnsupportedOperationException e) {
      return new Probe(Optional.empty(), DEFAULT_SCALAR_LANES, "Vector API present but not used: " + e.getMessage());
    } catch (LinkageError | ReflectiveOperationException e) {
      return new Probe(Optional.empty(), DEFAULT_SCALAR_LANES, "Vector API failed to load (" + e + ")");
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
  }

  /** Defers the probe to first use and makes it happen once, without class-loading deadlocks. */
  private static final class Holder {
    static final Probe PROBE = lookup();
  }
}
