package io.crosscoder.cuda.blas;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.crosscoder.cuda.fake.FakeLibraries;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole path from {@link CublasLoader#load} to a product, through each binding, in a fresh JVM
 * per case (a JNI library and the dynamic loader's search path are per process) whose environment
 * points at host-memory stand-ins for libcublas built from {@code fake_cublas.c}: the JCublas route
 * with a fake {@code libcublas.so.12} on {@code LD_LIBRARY_PATH} (its symbols carry the
 * {@code libcublas.so.12} version that libJCublas2 asks for), the FFM route with a fake
 * {@code libcublas.so.13} under {@code CUDA_HOME}, and the fallback from a missing JCublas to
 * {@code libcublas.so.12} through FFM.
 */
class CublasLoaderFakeLibraryTest {
  private static final int M = 3;
  private static final int N = 2;
  private static final int K = 4;

  @TempDir static Path dir;

  @BeforeAll
  static void buildFakes() throws Exception {
    assumeTrue(FakeLibraries.unavailable().isEmpty(), () -> FakeLibraries.unavailable().orElse(""));
    FakeLibraries.build("fake_cublas.c", dir.resolve("ld12"), "libcublas.so.12", "libcublas.so.12",
        "FAKE_VERSION=120604");
    FakeLibraries.build("fake_cublas.c", dir.resolve("home13/lib64"), "libcublas.so.13", "libcublas.so.13",
        "FAKE_VERSION=130002");
    FakeLibraries.build("fake_cublas.c", dir.resolve("home12/lib64"), "libcublas.so.12", "libcublas.so.12",
        "FAKE_VERSION=120604");
  }

  @Test
  void autoPicksJCublasWhenLibcublas12IsOnTheLoaderPath() throws Exception {
    Map<String, String> out = child("auto", "libcublas.so.12", Map.of("LD_LIBRARY_PATH", dir.resolve("ld12").toString()));
    String expected = "cuBLAS 12.6.4 through JCublas 12.6.0 (libcublas.so.12)";
    assertThat(out).containsEntry("available", "true")
        .containsEntry("description", expected)
        .containsEntry("attempts", "JCublas 12.6.0: loaded, " + expected)
        .containsEntry("handle", expected);
    assertProducts(out);
  }

  @Test
  void ffmFindsLibcublas13UnderCudaHome() throws Exception {
    assumeNoRealCublas();
    Map<String, String> out = child("ffm", "libcublas.so.13", Map.of("CUDA_HOME", dir.resolve("home13").toString()));
    String expected = "cuBLAS 13.0.2 through FFM (libcublas.so.13 at "
        + dir.resolve("home13/lib64/libcublas.so.13") + ")";
    assertThat(out).containsEntry("available", "true")
        .containsEntry("description", expected)
        .containsEntry("attempts", "libcublas.so.13: loaded, " + expected)
        .containsEntry("handle", expected);
    assertProducts(out);
  }

  @Test
  void autoFallsBackFromJCublasToLibcublas12ThroughFfm() throws Exception {
    assumeNoRealCublas();
    Map<String, String> out = child("auto", "libcublas.so.12", Map.of("CUDA_HOME", dir.resolve("home12").toString()));
    String expected = "cuBLAS 12.6.4 through FFM (libcublas.so.12 at "
        + dir.resolve("home12/lib64/libcublas.so.12") + ")";
    assertThat(out).containsEntry("available", "true").containsEntry("description", expected);
    List<String> attempts = List.of(out.get("attempts").split(" \\| "));
    assertThat(attempts).hasSize(3);
    assertThat(attempts.get(0)).isEqualTo("JCublas 12.6.0 needs libcublas.so.12: libcublas.so.12:"
        + " cannot open shared object file: No such file or directory");
    assertThat(attempts.get(1)).startsWith("libcublas.so.13: not found (dynamic loader: libcublas.so.13:")
        .contains(dir.resolve("home12/lib64").toString());
    assertThat(attempts.get(2)).isEqualTo("libcublas.so.12: loaded, " + expected);
    assertThat(out).containsEntry("handle", "cuBLAS 12.6.4 through FFM (libcublas.so.12 at "
        + dir.resolve("home12/lib64/libcublas.so.12") + ")");
    assertProducts(out);
  }

  private static void assumeNoRealCublas() {
    CublasLoader.Loaded here = CublasLoader.load("ffm");
    assumeFalse(here.available(), () -> "a real cuBLAS is found here first: " + here.description());
  }

  /** The child's products against the f64 oracle, and its TF32 switch against the header values. */
  private static void assertProducts(Map<String, String> out) {
    Data d = new Data();
    double[] sgemm = GemmOracle.gemm(true, false, M, N, K, 0.5, d.a, d.lda, d.b, d.ldb, 2, d.c, d.ldc);
    double[] bf16 = GemmOracle.gemm(true, false, M, N, K, 0.5, d.a, d.lda, d.b, d.ldb, 0, d.c, d.ldc);
    assertThat(floats(out.get("sgemm"))).containsExactly(toFloats(sgemm));
    assertThat(floats(out.get("bf16"))).containsExactly(toFloats(bf16));
    assertThat(out).containsEntry("mathModes", "3,0"); // CUBLAS_TF32_TENSOR_OP_MATH, CUBLAS_DEFAULT_MATH
  }

  private static float[] floats(String csv) {
    String[] parts = csv.split(",");
    float[] f = new float[parts.length];
    for (int i = 0; i < parts.length; i++) {
      f[i] = Float.parseFloat(parts[i]);
    }
    return f;
  }

  private static float[] toFloats(double[] d) {
    float[] f = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      f[i] = (float) d[i];
    }
    return f;
  }

  private static Map<String, String> child(String preference, String soname, Map<String, String> env)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED",
        "-Djava.io.tmpdir=" + dir.resolve("tmp-" + preference + "-" + soname.replace('.', '_')),
        "-cp", System.getProperty("java.class.path"),
        Child.class.getName(), preference, soname));
    Files.createDirectories(dir.resolve("tmp-" + preference + "-" + soname.replace('.', '_')));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().remove("LD_LIBRARY_PATH");
    pb.environment().remove("CUDA_HOME");
    pb.environment().putAll(env);
    Process p = pb.start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    boolean done = p.waitFor(120, TimeUnit.SECONDS);
    if (!done) {
      p.destroyForcibly();
    }
    assertThat(done && p.exitValue() == 0).as("child JVM %s failed:%n%s", command, output).isTrue();
    Map<String, String> values = new LinkedHashMap<>();
    for (String line : output.split("\n")) {
      int eq = line.indexOf('=');
      if (line.startsWith("@") && eq > 0) {
        values.put(line.substring(1, eq), line.substring(eq + 1));
      }
    }
    assertThat(values).as("child output:%n%s", output).containsKey("available");
    return values;
  }

  /** The matrices both JVMs use: op(A) = A^T with A stored K x M, B stored K x N, padded. */
  static final class Data {
    final int lda = K + 1;
    final int ldb = K + 2;
    final int ldc = M + 1;
    final float[] a = GemmOracle.values(lda * M, 7);
    final float[] b = GemmOracle.values(ldb * N, 8);
    final float[] c = GemmOracle.values(ldc * N, 9);
  }

  /** Runs in the child JVM: loads, multiplies on host memory (the fake's "device"), prints. */
  public static final class Child {
    public static void main(String[] args) throws Throwable {
      CublasLoader.Loaded loaded = CublasLoader.load(args[0]);
      System.out.println("@available=" + loaded.available());
      System.out.println("@description=" + loaded.description());
      System.out.println("@attempts=" + String.join(" | ", loaded.attempts()));
      if (!loaded.available()) {
        return;
      }
      Data d = new Data();
      try (Arena arena = Arena.ofConfined(); Cublas blas = loaded.create()) {
        System.out.println("@handle=" + blas.description());
        MemorySegment a = arena.allocateFrom(JAVA_FLOAT, d.a);
        MemorySegment b = arena.allocateFrom(JAVA_FLOAT, d.b);
        MemorySegment c = arena.allocateFrom(JAVA_FLOAT, d.c);
        blas.sgemm(true, false, M, N, K, 0.5f, a.address(), d.lda, b.address(), d.ldb, 2f, c.address(), d.ldc);
        System.out.println("@sgemm=" + csv(c.toArray(JAVA_FLOAT)));

        MemorySegment a16 = arena.allocate(JAVA_SHORT, d.a.length);
        MemorySegment b16 = arena.allocate(JAVA_SHORT, d.b.length);
        for (int i = 0; i < d.a.length; i++) {
          a16.setAtIndex(JAVA_SHORT, i, GemmOracle.bf16(d.a[i]));
        }
        for (int i = 0; i < d.b.length; i++) {
          b16.setAtIndex(JAVA_SHORT, i, GemmOracle.bf16(d.b[i]));
        }
        MemorySegment c2 = arena.allocateFrom(JAVA_FLOAT, d.c);
        blas.gemmBf16(true, false, M, N, K, 0.5f, a16.address(), d.lda, b16.address(), d.ldb, 0f,
            c2.address(), d.ldc);
        System.out.println("@bf16=" + csv(c2.toArray(JAVA_FLOAT)));

        // The soname names the copy already loaded, whichever way it was found.
        MethodHandle mode = FakeLibraries.function(SymbolLookup.libraryLookup(args[1], Arena.global()),
            "fake_last_math_mode", FunctionDescriptor.of(JAVA_INT));
        blas.setTf32(true);
        int on = (int) mode.invokeExact();
        blas.setTf32(false);
        int off = (int) mode.invokeExact();
        System.out.println("@mathModes=" + on + "," + off);
      }
    }

    private static String csv(float[] v) {
      StringBuilder s = new StringBuilder();
      for (float f : v) {
        s.append(s.isEmpty() ? "" : ",").append(f);
      }
      return s.toString();
    }
  }
}
