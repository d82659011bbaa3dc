package io.crosscoder.cpu.kernels;

import io.crosscoder.backend.BackendOptions;
import java.util.Optional;

/**
 * The one place that says whether this JVM can run the Vector API kernels ({@code
 * jdk.incubator.vector}) and at what width; every CPU code path (the pair pass of {@code
 * CpuBackend}, the training kernels of {@link CpuKernels}, the GEMM micro-kernels) asks it. Probed
 * once per JVM, in the manner of Lucene's {@code VectorizationProvider}, by one rule:
 *
 * <ol>
 *   <li>the module {@code jdk.incubator.vector} is in this class's module layer or the boot layer
 *       ({@code --add-modules jdk.incubator.vector}), and this module reads it;
 *   <li>the JIT is C2: without it (a client VM, {@code -XX:TieredStopAtLevel} below 4, a JVMCI
 *       compiler) every vector operation runs as a boxed Java loop, far slower than plain Java;
 *   <li>the preferred float vector is at least 128 bits wide.
 * </ol>
 *
 * <p>No class that links against {@code jdk.incubator.vector} is loaded before the first point
 * holds. When the probe fails one line is logged saying why and how to enable the fast path; the
 * plain-Java kernels then give the same answers up to f32 rounding.
 *
 * <p>The probe says what the JVM <em>can</em> do. Whether a backend <em>uses</em> it is that
 * backend's option ({@link BackendOptions#vectorApiOrDefault()}: the option, else the system
 * property {@value #PROPERTY}), decided when the backend is made.
 */
public final class VectorSupport {
  /** System property: {@code false} makes backends made without an explicit option use plain Java. */
  public static final String PROPERTY = BackendOptions.VECTOR_PROPERTY;

  private static final String MODULE = "jdk.incubator.vector";
  /** The JDK's platform logger: java.util.logging's console by default, no logging library needed. */
  private static final System.Logger LOG = System.getLogger(VectorSupport.class.getName());

  /**
   * The outcome of the probe.
   *
   * @param usable whether the Vector API kernels can run here
   * @param bits the preferred float vector width in bits, or 0 when not usable
   * @param reason what was found ({@code "Vector API 512-bit"}), or why it cannot be used and how to
   *     enable it
   */
  public record Probe(boolean usable, int bits, String reason) {}

  private VectorSupport() {}

  private static final class Holder {
    static final Probe PROBE = probe();
  }

  /** {@return the cached probe of this JVM} */
  public static Probe get() {
    return Holder.PROBE;
  }

  /**
   * Whether a backend made with {@code options} uses the Vector API: the JVM can run it and the
   * options (or the system property) do not turn it off.
   *
   * @param options the backend's options
   * @return whether to use the Vector API kernels
   */
  public static boolean use(BackendOptions options) {
    return get().usable() && options.vectorApiOrDefault();
  }

  private static Probe probe() {
    Optional<Module> module = Optional.ofNullable(VectorSupport.class.getModule().getLayer())
        .orElse(ModuleLayer.boot())
        .findModule(MODULE);
    if (module.isEmpty()) {
      module = ModuleLayer.boot().findModule(MODULE);
    }
    if (module.isEmpty()) {
      return log(new Probe(false, 0, MODULE + " is not enabled; run java with --add-modules " + MODULE
          + " for the Vector API kernels"));
    }
    Module self = VectorSupport.class.getModule();
    self.addReads(module.get());
    if (!self.canRead(module.get())) {
      return log(new Probe(false, 0, MODULE + " is not readable by " + self + "; add 'requires " + MODULE
          + "' or --add-reads"));
    }
    Optional<String> noC2 = optimizingCompilerMissing();
    if (noC2.isPresent()) {
      return log(new Probe(false, 0, "Vector API present but not used: " + noC2.get()));
    }
    int bits;
    try {
      bits = (int) Class.forName("io.crosscoder.cpu.kernels.VectorElementwise")
          .getDeclaredMethod("preferredBits").invoke(null);
    } catch (ReflectiveOperationException | LinkageError e) {
      return log(new Probe(false, 0, "the Vector API kernels failed to load: " + e));
    }
    if (bits < 128) {
      return log(new Probe(false, 0, "the preferred vector width is " + bits + " bits, too narrow to gain"));
    }
    return new Probe(true, bits, "Vector API " + bits + "-bit");
  }

  /**
   * Why the JIT could not compile Vector API code into vector instructions, if it could not:
   * without C2 every vector operation runs as a boxed Java loop.
   */
  private static Optional<String> optimizingCompilerMissing() {
    if (System.getProperty("java.vm.info", "").contains("emulated-client")) {
      return Optional.of("the JVM runs as a client VM (as with -XX:TieredStopAtLevel=1), without the C2 compiler");
    }
    try {
      var hotspot = java.lang.management.ManagementFactory.getPlatformMXBean(
          com.sun.management.HotSpotDiagnosticMXBean.class);
      if (hotspot == null) {
        return Optional.empty();
      }
      String level = hotspot.getVMOption("TieredStopAtLevel").getValue();
      if (Integer.parseInt(level) < 4) {
        return Optional.of("-XX:TieredStopAtLevel=" + level + " keeps the C2 compiler off");
      }
      if (Boolean.parseBoolean(hotspot.getVMOption("UseJVMCICompiler").getValue())) {
        return Optional.of("a JVMCI compiler replaces C2 (-XX:+UseJVMCICompiler)");
      }
    } catch (LinkageError | RuntimeException e) {
      // No java.management or jdk.management in this runtime, or not HotSpot: assume C2.
    }
    return Optional.empty();
  }

  private static Probe log(Probe p) {
    LOG.log(System.Logger.Level.WARNING, "crosscoder cpu backend: plain-Java kernels: " + p.reason());
    return p;
  }
}
