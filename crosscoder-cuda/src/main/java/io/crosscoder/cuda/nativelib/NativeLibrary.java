package io.crosscoder.cuda.nativelib;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A shared library of the CUDA toolkit (libcublas, libnvrtc) opened through the FFM API, and the
 * search that finds it.
 *
 * <p>{@link #find(String)} asks the dynamic loader for the plain soname first (so
 * {@code LD_LIBRARY_PATH}, the {@code ldconfig} cache and an already loaded copy win), then looks
 * for the file in {@link #cudaDirectories(Map)}: {@code $CUDA_HOME/lib64},
 * {@code /usr/local/cuda/lib64}, {@code /usr/local/cuda-13*}{@code /lib64},
 * {@code /usr/local/cuda-12*}{@code /lib64} (newest first) and {@code /usr/lib/x86_64-linux-gnu}.
 * It never throws for a missing or broken library: the {@link Search} says what was tried and,
 * using {@code dlerror} when first asked, why each candidate did not load.
 *
 * <p>Libraries are opened in the global arena and stay loaded for the life of the JVM: CUDA
 * libraries keep threads and driver state that do not survive being unloaded, and a process opens
 * each at most a few times. Instances are immutable and thread-safe.
 */
public final class NativeLibrary {
  /** {@code RTLD_LAZY} from glibc's {@code <dlfcn.h>}: resolve functions on first call. */
  private static final int RTLD_LAZY = 1;
  /** {@code RTLD_NOLOAD} from glibc's {@code <dlfcn.h>}: only return an already loaded object. */
  private static final int RTLD_NOLOAD = 4;
  /** {@code RTLD_DI_LINKMAP} from glibc's {@code <dlfcn.h>}: ask {@code dlinfo} for the {@code link_map}. */
  private static final int RTLD_DI_LINKMAP = 2;

  private final String soname;
  private final String location;
  private final SymbolLookup lookup;

  private NativeLibrary(String soname, String location, SymbolLookup lookup) {
    this.soname = soname;
    this.location = location;
    this.lookup = lookup;
  }

  /**
   * The outcome of one search for a library: the library when it loaded, and otherwise one line
   * saying where it was looked for and why each candidate failed.
   */
  public static final class Search {
    private final String soname;
    private final NativeLibrary library;
    private Supplier<String> why;
    private String reason;

    private Search(String soname, NativeLibrary library, Supplier<String> why) {
      this.soname = soname;
      this.library = library;
      this.why = why;
    }

    /** The soname that was searched for, e.g. {@code libcublas.so.13}. */
    public String soname() {
      return soname;
    }

    /** The opened library, or empty when it was not found or did not load. */
    public Optional<NativeLibrary> library() {
      return Optional.ofNullable(library);
    }

    /**
     * Why the library is missing, starting with the soname, e.g. {@code "libcublas.so.13: not
     * found (dynamic loader: ...; looked in /usr/local/cuda/lib64, ...)"}; empty when it loaded.
     * Worded on the first call, which asks the dynamic loader again for its messages ({@code
     * dlerror}, through three FFM downcalls that cost a cold JVM about 0.1 s), so that a search
     * whose outcome is all the caller needs costs only the lookup.
     */
    public synchronized String reason() {
      if (reason == null) {
        reason = why.get();
        why = null;
      }
      return reason;
    }

    @Override
    public String toString() {
      return library != null ? library.toString() : reason();
    }
  }

  /**
   * Finds {@code soname} through the dynamic loader and then in the CUDA directories of this
   * machine's environment ({@link #cudaDirectories(Map)} of {@link System#getenv()}).
   *
   * @param soname a plain file name such as {@code libcublas.so.13}
   * @return the search's outcome; never throws for a missing library
   */
  public static Search find(String soname) {
    return find(soname, cudaDirectories(System.getenv()));
  }

  /**
   * Finds {@code soname} through the dynamic loader and then as a file in each of
   * {@code directories}, in order.
   *
   * @param soname a plain file name such as {@code libcublas.so.13}, without a directory
   * @param directories where to look after the dynamic loader; missing ones are skipped
   * @return the search's outcome; never throws for a missing library
   */
  public static Search find(String soname, List<Path> directories) {
    Objects.requireNonNull(soname, "soname");
    Objects.requireNonNull(directories, "directories");
    if (soname.isBlank() || soname.contains("/")) {
      throw new IllegalArgumentException("soname must be a plain file name, got '" + soname + "'");
    }
    try {
      SymbolLookup byName = SymbolLookup.libraryLookup(soname, Arena.global());
      String where = loadedPath(soname);
      return new Search(soname, new NativeLibrary(soname, where.isEmpty() ? "found by the dynamic loader" : where,
          byName), () -> "");
    } catch (IllegalArgumentException notOnLoaderPath) {
      // Expected on most machines; the directories below are the fallback.
    } catch (IllegalCallerException nativeAccessDenied) {
      return new Search(soname, null, () -> soname + ": native access is denied to this code; run the JVM"
          + " with --enable-native-access=ALL-UNNAMED (or the module's name)");
    }
    List<String> looked = new ArrayList<>();
    List<Path> broken = new ArrayList<>();
    for (Path dir : directories) {
      Path candidate = dir.resolve(soname);
      looked.add(dir.toString());
      if (!Files.isRegularFile(candidate)) {
        continue;
      }
      try {
        SymbolLookup byPath = SymbolLookup.libraryLookup(candidate, Arena.global());
        return new Search(soname, new NativeLibrary(soname, candidate.toString(), byPath), () -> "");
      } catch (IllegalArgumentException | IllegalCallerException e) {
        broken.add(candidate);
      }
    }
    return new Search(soname, null, () -> {
      String where = "dynamic loader: " + dlopenError(soname) + "; looked in "
          + (looked.isEmpty() ? "no other directory" : String.join(", ", looked));
      return broken.isEmpty()
          ? soname + ": not found (" + where + ")"
          : soname + ": " + broken.stream().map(c -> c + " does not load: " + dlopenError(c.toString()))
              .collect(Collectors.joining("; ")) + " (" + where + ")";
    });
  }

  /**
   * The directories where CUDA toolkits put their libraries, in search order:
   * {@code $CUDA_HOME/lib64} when {@code CUDA_HOME} is set, {@code /usr/local/cuda/lib64}, every
   * {@code /usr/local/cuda-13*}{@code /lib64} and then {@code /usr/local/cuda-12*}{@code /lib64}
   * (newest version first), and {@code /usr/lib/x86_64-linux-gnu} (Debian and Ubuntu packages).
   * Directories that do not exist are kept: the caller reports where it looked.
   *
   * @param environment the process environment, usually {@link System#getenv()}
   */
  public static List<Path> cudaDirectories(Map<String, String> environment) {
    Set<Path> dirs = new LinkedHashSet<>();
    String cudaHome = environment.get("CUDA_HOME");
    if (cudaHome != null && !cudaHome.isBlank()) {
      dirs.add(Path.of(cudaHome.strip(), "lib64"));
    }
    Path usrLocal = Path.of("/usr/local");
    dirs.add(usrLocal.resolve("cuda").resolve("lib64"));
    dirs.addAll(versionedToolkits(usrLocal, 13));
    dirs.addAll(versionedToolkits(usrLocal, 12));
    dirs.add(Path.of("/usr/lib/x86_64-linux-gnu"));
    return List.copyOf(dirs);
  }

  /** {@code parent/cuda-<major>.*}{@code /lib64}, newest minor first. */
  static List<Path> versionedToolkits(Path parent, int major) {
    Pattern name = Pattern.compile("cuda-" + major + "(?:\\.(\\d+))?(?:\\.(\\d+))?");
    if (!Files.isDirectory(parent)) {
      return List.of();
    }
    try (Stream<Path> children = Files.list(parent)) {
      return children
          .filter(p -> name.matcher(p.getFileName().toString()).matches())
          .sorted(Comparator.comparingLong((Path p) -> versionKey(name, p)).reversed())
          .map(p -> p.resolve("lib64"))
          .toList();
    } catch (IOException | SecurityException e) {
      return List.of();
    }
  }

  private static long versionKey(Pattern name, Path p) {
    Matcher m = name.matcher(p.getFileName().toString());
    if (!m.matches()) {
      return -1;
    }
    long minor = m.group(1) == null ? 0 : Long.parseLong(m.group(1));
    long patch = m.group(2) == null ? 0 : Long.parseLong(m.group(2));
    return minor * 1_000_000L + patch;
  }

  /** The soname this library was searched for, e.g. {@code libcublas.so.13}. */
  public String soname() {
    return soname;
  }

  /**
   * Where it was loaded from: the file's absolute path, or {@code "found by the dynamic loader"}
   * when the loader resolved the plain soname and would not say to which file.
   */
  public String location() {
    return location;
  }

  /** The address of the exported function or variable {@code name}, or empty when it is absent. */
  public Optional<MemorySegment> symbol(String name) {
    return lookup.find(name);
  }

  /**
   * A downcall handle to the exported function {@code name} with the C signature
   * {@code descriptor}.
   *
   * @throws java.util.NoSuchElementException when the library lacks {@code name}; the message
   *     names the symbol and the library
   */
  public MethodHandle downcall(String name, FunctionDescriptor descriptor) {
    MemorySegment symbol = lookup.find(name).orElseThrow(() -> new java.util.NoSuchElementException(
        this + " lacks the symbol " + name));
    return Linker.nativeLinker().downcallHandle(symbol, descriptor);
  }

  @Override
  public String toString() {
    return location.startsWith("/") ? soname + " at " + location : soname + " (" + location + ")";
  }

  /**
   * The file the dynamic loader opened for {@code soname}, already loaded: {@code dlopen} with
   * {@code RTLD_NOLOAD} gives its handle, and {@code dlinfo(RTLD_DI_LINKMAP)} its {@code link_map},
   * whose second field {@code l_name} is the path (glibc's {@code <link.h>}). Best effort: empty
   * when any step fails.
   */
  static String loadedPath(String soname) {
    try {
      Linker linker = Linker.nativeLinker();
      SymbolLookup libc = linker.defaultLookup();
      MethodHandle dlopen = linker.downcallHandle(libc.find("dlopen").orElseThrow(),
          FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
      MethodHandle dlinfo = linker.downcallHandle(libc.find("dlinfo").orElseThrow(),
          FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
      MethodHandle dlclose = linker.downcallHandle(libc.find("dlclose").orElseThrow(),
          FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment handle = (MemorySegment) dlopen.invokeExact(arena.allocateFrom(soname), RTLD_LAZY | RTLD_NOLOAD);
        if (handle.equals(MemorySegment.NULL)) {
          return "";
        }
        try {
          MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
          if ((int) dlinfo.invokeExact(handle, RTLD_DI_LINKMAP, out) != 0) {
            return "";
          }
          MemorySegment linkMap = out.get(ValueLayout.ADDRESS, 0).reinterpret(2 * ValueLayout.ADDRESS.byteSize());
          MemorySegment name = linkMap.get(ValueLayout.ADDRESS, ValueLayout.ADDRESS.byteSize());
          if (name.equals(MemorySegment.NULL)) {
            return "";
          }
          String path = name.reinterpret(Integer.MAX_VALUE).getString(0);
          return path.startsWith("/") ? path : "";
        } finally {
          int ignored = (int) dlclose.invokeExact(handle);
        }
      }
    } catch (Throwable t) {
      return "";
    }
  }

  /**
   * Why {@code dlopen} refuses {@code nameOrPath}, from {@code dlerror}: the FFM lookup only says
   * "cannot open", while the loader names the missing dependency or the bad file. Best effort:
   * falls back to a generic phrase when libc's loader functions cannot be called.
   */
  static String dlopenError(String nameOrPath) {
    try {
      Linker linker = Linker.nativeLinker();
      SymbolLookup libc = linker.defaultLookup();
      MethodHandle dlopen = linker.downcallHandle(libc.find("dlopen").orElseThrow(),
          FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
      MethodHandle dlerror = linker.downcallHandle(libc.find("dlerror").orElseThrow(),
          FunctionDescriptor.of(ValueLayout.ADDRESS));
      MethodHandle dlclose = linker.downcallHandle(libc.find("dlclose").orElseThrow(),
          FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
      try (Arena arena = Arena.ofConfined()) {
        // Clears a stale message left by an earlier failure on this thread.
        MemorySegment stale = (MemorySegment) dlerror.invokeExact();
        MemorySegment handle = (MemorySegment) dlopen.invokeExact(arena.allocateFrom(nameOrPath), RTLD_LAZY);
        if (!handle.equals(MemorySegment.NULL)) {
          int ignored = (int) dlclose.invokeExact(handle);
          return "loads when opened directly, but not through the FFM lookup";
        }
        MemorySegment message = (MemorySegment) dlerror.invokeExact();
        if (message.equals(MemorySegment.NULL)) {
          return "cannot be opened";
        }
        return message.reinterpret(Integer.MAX_VALUE).getString(0);
      }
    } catch (Throwable t) {
      return "cannot be opened";
    }
  }
}
