package io.crosscoder.cuda.fake;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Builds the stand-in CUDA libraries of {@code src/test/resources/io/crosscoder/cuda/fake} with
 * the system's C compiler, so the FFM and JCuda bindings can be exercised without a GPU. Tests
 * that need them skip, with the reason, where no compiler is found.
 */
public final class FakeLibraries {
  private FakeLibraries() {}

  /** Why fake libraries cannot be built here, or empty when {@code cc} works. */
  public static Optional<String> unavailable() {
    return Holder.WHY_NOT;
  }

  private static final class Holder {
    static final Optional<String> WHY_NOT = probe();
  }

  private static Optional<String> probe() {
    try {
      Process p = new ProcessBuilder("cc", "--version").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        return Optional.of("no working C compiler 'cc' to build the fake CUDA libraries");
      }
      return Optional.empty();
    } catch (IOException | InterruptedException e) {
      return Optional.of("no C compiler 'cc' to build the fake CUDA libraries: " + e.getMessage());
    }
  }

  /**
   * Compiles the fake {@code source} ({@code "fake_cublas.c"} or {@code "fake_nvrtc.c"}) into
   * {@code directory/soname}.
   *
   * @param versionNode when not null, every exported symbol gets this ELF version (libcublas.so.12
   *     exports its symbols as {@code cublasSgemm_v2@libcublas.so.12}, and JCuda's JNI library
   *     asks for exactly that)
   * @param defines extra {@code -D} definitions, e.g. {@code "FAKE_VERSION=120604"}
   */
  public static Path build(String source, Path directory, String soname, String versionNode,
      String... defines) throws IOException, InterruptedException {
    Files.createDirectories(directory);
    Path c = directory.resolve(source);
    try (InputStream in = FakeLibraries.class.getResourceAsStream(source)) {
      if (in == null) {
        throw new IOException("test resource " + source + " is missing");
      }
      Files.write(c, in.readAllBytes());
    }
    Path out = directory.resolve(soname);
    List<String> command = new ArrayList<>(List.of("cc", "-shared", "-fPIC", "-O1", "-o",
        out.toString(), "-Wl,-soname," + soname));
    if (versionNode != null) {
      Path map = directory.resolve(soname + ".map");
      Files.writeString(map, versionNode + " { global: *; };\n", StandardCharsets.US_ASCII);
      command.add("-Wl,--version-script=" + map);
    }
    for (String d : defines) {
      command.add("-D" + d);
    }
    command.add(c.toString());
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("cc failed for " + source + ": " + command + "\n" + output);
    }
    return out;
  }

  /** A downcall handle to {@code name} in the already loaded {@code lookup}. */
  public static MethodHandle function(SymbolLookup lookup, String name, FunctionDescriptor descriptor) {
    MemorySegment symbol = lookup.find(name).orElseThrow(() -> new AssertionError("fake lacks " + name));
    return Linker.nativeLinker().downcallHandle(symbol, descriptor);
  }
}
