package io.crosscoder.cuda.nvrtc;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.crosscoder.CrosscoderException;
import io.crosscoder.cuda.nativelib.NativeLibrary;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;

/**
 * NVRTC, CUDA's runtime compiler, through {@code java.lang.foreign}: compiles CUDA C++ source to
 * PTX text, which the driver then loads as a module. Binds {@code libnvrtc.so.13} or, failing
 * that, {@code libnvrtc.so.12}, searched for as {@link NativeLibrary#find(String)} does. Needs
 * neither a GPU nor a CUDA context.
 *
 * <p>The probe runs once per JVM, on the first call of {@link #load()} or {@link #whyNot()}; its
 * result never changes. An instance keeps no state between calls: {@link #compileToPtx} creates
 * and always destroys its own program, so it may be called from several threads.
 */
public final class Nvrtc {
  static final String VERSION = "nvrtcVersion";
  static final String CREATE_PROGRAM = "nvrtcCreateProgram";
  static final String COMPILE_PROGRAM = "nvrtcCompileProgram";
  static final String GET_PTX_SIZE = "nvrtcGetPTXSize";
  static final String GET_PTX = "nvrtcGetPTX";
  static final String GET_PROGRAM_LOG_SIZE = "nvrtcGetProgramLogSize";
  static final String GET_PROGRAM_LOG = "nvrtcGetProgramLog";
  static final String DESTROY_PROGRAM = "nvrtcDestroyProgram";

  /**
   * The C signatures, from {@code nvrtc.h} (as documented by NVIDIA's cuda-python
   * {@code cuda.bindings.nvrtc} reference and mirrored by the cudarc crate's {@code nvrtc::sys}):
   *
   * <pre>
   * nvrtcResult nvrtcVersion(int *major, int *minor);
   * nvrtcResult nvrtcCreateProgram(nvrtcProgram *prog, const char *src, const char *name,
   *     int numHeaders, const char * const *headers, const char * const *includeNames);
   * nvrtcResult nvrtcCompileProgram(nvrtcProgram prog, int numOptions, const char * const *options);
   * nvrtcResult nvrtcGetPTXSize(nvrtcProgram prog, size_t *ptxSizeRet);
   * nvrtcResult nvrtcGetPTX(nvrtcProgram prog, char *ptx);
   * nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram prog, size_t *logSizeRet);
   * nvrtcResult nvrtcGetProgramLog(nvrtcProgram prog, char *log);
   * nvrtcResult nvrtcDestroyProgram(nvrtcProgram *prog);
   * </pre>
   *
   * Pointers and the opaque {@code nvrtcProgram} are {@code ADDRESS}, {@code int} and the
   * {@code nvrtcResult} enum {@code JAVA_INT}, {@code size_t} {@code JAVA_LONG} (64-bit Linux).
   */
  static final Map<String, FunctionDescriptor> DESCRIPTORS = table();

  private static final List<String> SONAMES = List.of("libnvrtc.so.13", "libnvrtc.so.12");

  private final NativeLibrary library;
  private final String version;
  private final MethodHandle createProgram;
  private final MethodHandle compileProgram;
  private final MethodHandle getPtxSize;
  private final MethodHandle getPtx;
  private final MethodHandle getLogSize;
  private final MethodHandle getLog;
  private final MethodHandle destroyProgram;

  private Nvrtc(NativeLibrary library) {
    this.library = library;
    MethodHandle versionCall = bind(library, VERSION);
    this.createProgram = bind(library, CREATE_PROGRAM);
    this.compileProgram = bind(library, COMPILE_PROGRAM);
    this.getPtxSize = bind(library, GET_PTX_SIZE);
    this.getPtx = bind(library, GET_PTX);
    this.getLogSize = bind(library, GET_PROGRAM_LOG_SIZE);
    this.getLog = bind(library, GET_PROGRAM_LOG);
    this.destroyProgram = bind(library, DESTROY_PROGRAM);
    this.version = queryVersion(versionCall);
  }

  /** The outcome of the probe: the binding, or why there is none. */
  record Probe(Nvrtc nvrtc, String whyNot) {}

  /** Computes the probe once, on first use. */
  private static final class Holder {
    static final Probe PROBE = probe(SONAMES, NativeLibrary.cudaDirectories(System.getenv()));
  }

  /**
   * NVRTC when {@code libnvrtc.so.13} or {@code .so.12} loads here with every function this class
   * calls; empty otherwise, and {@link #whyNot()} says why. Never throws for a missing library.
   */
  public static Optional<Nvrtc> load() {
    return Optional.ofNullable(Holder.PROBE.nvrtc());
  }

  /**
   * Why {@link #load()} is empty, in one line naming each library tried, e.g. {@code "no NVRTC:
   * libnvrtc.so.13: not found (...); libnvrtc.so.12: not found (...)"}; an empty string when NVRTC
   * loaded.
   */
  public static String whyNot() {
    return Holder.PROBE.whyNot();
  }

  /** Tries each soname in order, searching {@code directories} after the dynamic loader. */
  static Probe probe(List<String> sonames, List<Path> directories) {
    List<String> reasons = new ArrayList<>();
    for (String soname : sonames) {
      NativeLibrary.Search search = NativeLibrary.find(soname, directories);
      if (search.library().isEmpty()) {
        reasons.add(search.reason());
        continue;
      }
      try {
        return new Probe(bind(search.library().get()), "");
      } catch (NoSuchElementException | IllegalArgumentException e) {
        reasons.add(soname + ": " + e.getMessage());
      }
    }
    return new Probe(null, "no NVRTC: " + String.join("; ", reasons)
        + "; install NVRTC 12 or 13 (CUDA toolkit, or the pip wheel nvidia-cuda-nvrtc-cu12 /"
        + " nvidia-cuda-nvrtc) and put its lib directory on LD_LIBRARY_PATH or set CUDA_HOME");
  }

  /**
   * Binds every function of {@link #DESCRIPTORS} in {@code library}.
   *
   * @throws NoSuchElementException naming the first missing symbol
   */
  static Nvrtc bind(NativeLibrary library) {
    return new Nvrtc(Objects.requireNonNull(library, "library"));
  }

  /** NVRTC's version from {@code nvrtcVersion}, e.g. {@code "13.0"}. */
  public String version() {
    return version;
  }

  /** What compiles, e.g. {@code "NVRTC 13.0 through FFM (libnvrtc.so.13 at /usr/local/cuda/lib64/libnvrtc.so.13)"}. */
  public String description() {
    return "NVRTC " + version + " through FFM (" + library + ")";
  }

  /**
   * Compiles one CUDA C++ translation unit to PTX.
   *
   * @param source the CUDA C++ source; kernels meant to be looked up by name should be
   *     {@code extern "C"}
   * @param name the program's name, used in the log's messages (e.g. {@code "pair_kernels.cu"})
   * @param options NVRTC options, e.g. {@code "--gpu-architecture=compute_90"}, {@code "-lineinfo"}
   * @return the PTX, without the trailing NUL
   * @throws CrosscoderException when NVRTC refuses; for a compile error the message holds the
   *     program's log ({@code nvrtcGetProgramLog})
   */
  public String compileToPtx(String source, String name, List<String> options) {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(name, "name");
    List<String> opts = List.copyOf(options);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment programOut = arena.allocate(ADDRESS);
      int result = (int) createProgram.invokeExact(programOut, arena.allocateFrom(source),
          arena.allocateFrom(name), 0, MemorySegment.NULL, MemorySegment.NULL);
      check(result, CREATE_PROGRAM, name, opts, "");
      MemorySegment program = programOut.get(ADDRESS, 0);
      try {
        MemorySegment optionArray = MemorySegment.NULL;
        if (!opts.isEmpty()) {
          optionArray = arena.allocate(ADDRESS, opts.size());
          for (int i = 0; i < opts.size(); i++) {
            optionArray.setAtIndex(ADDRESS, i, arena.allocateFrom(opts.get(i)));
          }
        }
        result = (int) compileProgram.invokeExact(program, opts.size(), optionArray);
        if (result != NvrtcResult.SUCCESS) {
          check(result, COMPILE_PROGRAM, name, opts, log(arena, program));
        }
        MemorySegment size = arena.allocate(JAVA_LONG);
        check((int) getPtxSize.invokeExact(program, size), GET_PTX_SIZE, name, opts, "");
        long bytes = size.get(JAVA_LONG, 0);
        if (bytes <= 1) {
          return "";
        }
        MemorySegment ptx = arena.allocate(bytes);
        check((int) getPtx.invokeExact(program, ptx), GET_PTX, name, opts, "");
        return ptx.getString(0);
      } finally {
        // nvrtcDestroyProgram takes the program's address, and nulls it.
        int destroyed = (int) destroyProgram.invokeExact(programOut);
        if (destroyed != NvrtcResult.SUCCESS) {
          System.getLogger(Nvrtc.class.getName()).log(System.Logger.Level.WARNING,
              DESTROY_PROGRAM + " of " + name + " returned " + NvrtcResult.name(destroyed));
        }
      }
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new CrosscoderException("NVRTC compile of " + name + " failed: " + t, t);
    }
  }

  @Override
  public String toString() {
    return description();
  }

  private String log(Arena arena, MemorySegment program) throws Throwable {
    MemorySegment size = arena.allocate(JAVA_LONG);
    if ((int) getLogSize.invokeExact(program, size) != NvrtcResult.SUCCESS) {
      return "(no log: " + GET_PROGRAM_LOG_SIZE + " failed)";
    }
    long bytes = size.get(JAVA_LONG, 0);
    if (bytes <= 1) {
      return "(empty log)";
    }
    MemorySegment log = arena.allocate(bytes);
    if ((int) getLog.invokeExact(program, log) != NvrtcResult.SUCCESS) {
      return "(no log: " + GET_PROGRAM_LOG + " failed)";
    }
    return log.getString(0).strip();
  }

  private static void check(int result, String call, String name, List<String> options, String log) {
    if (result != NvrtcResult.SUCCESS) {
      throw new CrosscoderException(call + " of " + name + " with options " + options + " failed: "
          + NvrtcResult.name(result) + " (" + result + ")" + NvrtcResult.hint(result)
          + (log.isEmpty() ? "" : "\n" + log));
    }
  }

  private static String queryVersion(MethodHandle versionCall) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment major = arena.allocate(JAVA_INT);
      MemorySegment minor = arena.allocate(JAVA_INT);
      int result = (int) versionCall.invokeExact(major, minor);
      if (result != NvrtcResult.SUCCESS) {
        return "(version unknown: " + NvrtcResult.name(result) + ")";
      }
      return major.get(JAVA_INT, 0) + "." + minor.get(JAVA_INT, 0);
    } catch (Throwable t) {
      return "(version unknown)";
    }
  }

  private static MethodHandle bind(NativeLibrary library, String name) {
    return library.downcall(name, DESCRIPTORS.get(name));
  }

  private static Map<String, FunctionDescriptor> table() {
    Map<String, FunctionDescriptor> t = new LinkedHashMap<>();
    t.put(VERSION, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    t.put(CREATE_PROGRAM, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
    t.put(COMPILE_PROGRAM, FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    t.put(GET_PTX_SIZE, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    t.put(GET_PTX, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    t.put(GET_PROGRAM_LOG_SIZE, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    t.put(GET_PROGRAM_LOG, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    t.put(DESTROY_PROGRAM, FunctionDescriptor.of(JAVA_INT, ADDRESS));
    return Collections.unmodifiableMap(t);
  }
}
