package io.crosscoder.cuda.blas;

import io.crosscoder.cuda.nativelib.NativeLibrary;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Finds a cuBLAS this JVM can call, without a GPU and without creating a handle:
 *
 * <ol>
 *   <li>JCublas 12.6.0 ({@link JCublasBinding}), whose JNI library needs {@code libcublas.so.12}
 *       on the dynamic loader's path;
 *   <li>{@code libcublas.so.13} through FFM ({@link FfmCublasBinding}), from the dynamic loader's
 *       path or the CUDA directories of {@link NativeLibrary#cudaDirectories};
 *   <li>{@code libcublas.so.12} through FFM, likewise.
 * </ol>
 *
 * <p>The first that loads wins; a preference of {@code "jcublas"} or {@code "ffm"} restricts the
 * attempts to that kind. Loading never throws for a missing or broken library: the result says
 * why each attempt failed, in one line a user can act on. Creating a handle is separate
 * ({@link Loaded#create()}) because it needs a current CUDA context.
 */
public final class CublasLoader {
  /** The accepted preferences, in the words of the error message. */
  private static final List<String> PREFERENCES = List.of("auto", "jcublas", "ffm");
  private static final String INSTALL_HINT = "install cuBLAS 12 or 13 (the CUDA toolkit, or the"
      + " pip wheel nvidia-cublas-cu12 / nvidia-cublas) and put its lib directory on LD_LIBRARY_PATH"
      + " or set CUDA_HOME";

  private CublasLoader() {}

  /**
   * Which cuBLAS was found, or why none was. Immutable.
   */
  public static final class Loaded {
    private final Supplier<Cublas> factory;
    private final String description;
    private final List<String> attempts;

    private Loaded(Supplier<Cublas> factory, String description, List<String> attempts) {
      this.factory = factory;
      this.description = description;
      this.attempts = List.copyOf(attempts);
    }

    /** Whether {@link #create()} can be called. */
    public boolean available() {
      return factory != null;
    }

    /**
     * When available, what will do the work, e.g. {@code "cuBLAS 13.0.2 through FFM
     * (libcublas.so.13 at /usr/local/cuda/lib64/libcublas.so.13)"}; otherwise one line saying why
     * not, e.g. {@code "no cuBLAS: JCublas 12.6.0 needs libcublas.so.12: ...; libcublas.so.13: not
     * found (...); libcublas.so.12: not found (...); install ..."}.
     */
    public String description() {
      return description;
    }

    /**
     * Every attempt made, in order, each starting with what was tried ({@code "JCublas ..."},
     * {@code "libcublas.so.13: ..."}, {@code "libcublas.so.12: ..."}); the last is the one that
     * loaded when {@link #available()}.
     */
    public List<String> attempts() {
      return attempts;
    }

    /**
     * Creates a cuBLAS handle bound to the CUDA context current on this thread; the caller closes
     * it before destroying the context.
     *
     * @throws IllegalStateException when no cuBLAS was found; the message is {@link #description()}
     * @throws io.crosscoder.CrosscoderException when cuBLAS refuses to create the handle
     */
    public Cublas create() {
      if (factory == null) {
        throw new IllegalStateException(description);
      }
      return factory.get();
    }

    @Override
    public String toString() {
      return description;
    }
  }

  /**
   * Looks for cuBLAS as the class comment describes.
   *
   * @param preference {@code "auto"} (every kind, in order), {@code "jcublas"} or {@code "ffm"};
   *     case and surrounding blanks are ignored. Usually the system property
   *     {@code crosscoder.cuda.blas}, read by the caller.
   * @return what was found, or why nothing was; never throws for missing libraries
   * @throws IllegalArgumentException when {@code preference} is none of the accepted values
   */
  public static Loaded load(String preference) {
    return load(preference, NativeLibrary.cudaDirectories(System.getenv()));
  }

  /** {@link #load(String)} with the FFM search directories given, for tests. */
  static Loaded load(String preference, List<Path> directories) {
    Objects.requireNonNull(preference, "preference");
    String choice = preference.strip().toLowerCase(Locale.ROOT);
    if (!PREFERENCES.contains(choice)) {
      throw new IllegalArgumentException("cuBLAS preference '" + preference + "' is not one of "
          + String.join(", ", PREFERENCES) + " (system property crosscoder.cuda.blas)");
    }
    List<String> attempts = new ArrayList<>();
    if (!choice.equals("ffm")) {
      Loaded jcublas = tryJCublas(attempts);
      if (jcublas != null) {
        return jcublas;
      }
    }
    if (!choice.equals("jcublas")) {
      for (String soname : List.of("libcublas.so.13", "libcublas.so.12")) {
        Loaded ffm = tryFfm(soname, directories, attempts);
        if (ffm != null) {
          return ffm;
        }
      }
    }
    String forced = choice.equals("auto") ? "" : " (crosscoder.cuda.blas=" + choice + ")";
    return new Loaded(null,
        "no cuBLAS" + forced + ": " + String.join("; ", attempts) + "; " + INSTALL_HINT, attempts);
  }

  private static Loaded tryJCublas(List<String> attempts) {
    JCublasProbe probe = JCublasProbe.RESULT;
    if (probe.version() == null) {
      attempts.add(probe.failure());
      return null;
    }
    String description = "cuBLAS " + (probe.version().isEmpty() ? "12" : probe.version()) + " through "
        + probe.jcuda() + " (libcublas.so.12)";
    attempts.add(probe.jcuda() + ": loaded, " + description);
    return new Loaded(JCublasBinding::create, description, attempts);
  }

  private static Loaded tryFfm(String soname, List<Path> directories, List<String> attempts) {
    NativeLibrary.Search search = NativeLibrary.find(soname, directories);
    if (search.library().isEmpty()) {
      attempts.add(search.reason());
      return null;
    }
    NativeLibrary library = search.library().get();
    FfmCublasBinding.Symbols symbols;
    try {
      symbols = FfmCublasBinding.Symbols.bind(library);
    } catch (NoSuchElementException | IllegalArgumentException e) {
      attempts.add(soname + ": " + e.getMessage());
      return null;
    }
    String version = symbols.propertyVersion();
    String description = "cuBLAS " + (version.isEmpty() ? soname.substring(soname.lastIndexOf('.') + 1) : version)
        + " through FFM (" + library + ")";
    attempts.add(soname + ": loaded, " + description);
    return new Loaded(() -> FfmCublasBinding.create(symbols), description, attempts);
  }

  private static String firstLine(String s) {
    int newline = s.indexOf('\n');
    return (newline < 0 ? s : s.substring(0, newline)).strip();
  }

  /**
   * Loading JCublas's JNI library, done once per JVM: a JNI library cannot be loaded twice, and a
   * second touch of {@code JCublas2} after a failed load throws {@link NoClassDefFoundError} with a
   * truncated copy of the first message. So the first outcome is kept.
   *
   * @param jcuda {@code "JCublas 12.6.0"}, or {@code "JCublas"} when JCuda is not on the class path
   * @param version cuBLAS's version when loaded ({@code ""} when it could not say), else null
   * @param failure why it did not load, when it did not
   */
  record JCublasProbe(String jcuda, String version, String failure) {
    static final JCublasProbe RESULT = run();

    private static JCublasProbe run() {
      String jcuda = "JCublas";
      try {
        jcuda = "JCublas " + JCublasBinding.jcudaVersion();
        return new JCublasProbe(jcuda, JCublasBinding.loadNatives(), null);
      } catch (LinkageError e) {
        return new JCublasProbe(jcuda, null, jcuda + " needs libcublas.so.12: " + reason(e));
      } catch (RuntimeException e) {
        // jcuda.CudaException for a platform JCuda does not support, among others.
        return new JCublasProbe(jcuda, null, jcuda + " failed to load: " + firstLine(String.valueOf(e.getMessage())));
      }
    }

    /**
     * The dynamic loader's complaint in {@code e}, e.g. {@code "libcublas.so.12: cannot open
     * shared object file: No such file or directory"}. JCuda's message holds one nested stack
     * trace per way it tried to load its JNI library; the {@code UnsatisfiedLinkError} of the
     * attempt from the jar names the missing dependency, while the attempt on
     * {@code java.library.path} only says the JNI library is not there.
     */
    static String reason(Throwable e) {
      String found = null;
      for (Throwable t = e; t != null && found == null; t = t.getCause()) {
        found = linkErrorLine(String.valueOf(t.getMessage()));
      }
      if (found != null) {
        return found;
      }
      return e.getClass().getSimpleName() + ": " + firstLine(String.valueOf(e.getMessage()));
    }

    private static String linkErrorLine(String message) {
      String prefix = "java.lang.UnsatisfiedLinkError: ";
      String last = null;
      String lastOnPath = null;
      for (String line : message.split("\n")) {
        String l = line.strip();
        int at = l.indexOf(prefix);
        if (at < 0) {
          continue;
        }
        String text = l.substring(at + prefix.length());
        if (text.contains("java.library.path") || text.startsWith("Error while loading")) {
          lastOnPath = text;
        } else {
          last = text;
        }
      }
      if (last == null) {
        return lastOnPath;
      }
      // "/tmp/libJCublas2-12.6.0-linux-x86_64.so: libcublas.so.12: cannot open ..." -> from "libcublas".
      int jni = last.indexOf(".so: ");
      if (last.startsWith("/") && jni > 0) {
        last = last.substring(jni + ".so: ".length());
      }
      return last;
    }
  }
}
