package io.crosscoder.cuda.nativelib;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.crosscoder.cuda.fake.FakeLibraries;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeLibraryTest {

  @Test
  void cudaDirectoriesPutCudaHomeFirstAndDistributionLibrariesLast() {
    List<Path> dirs = NativeLibrary.cudaDirectories(Map.of("CUDA_HOME", "/opt/my-cuda "));
    assertThat(dirs.get(0)).isEqualTo(Path.of("/opt/my-cuda/lib64"));
    assertThat(dirs.get(1)).isEqualTo(Path.of("/usr/local/cuda/lib64"));
    assertThat(dirs.get(dirs.size() - 1)).isEqualTo(Path.of("/usr/lib/x86_64-linux-gnu"));
    assertThat(NativeLibrary.cudaDirectories(Map.of()).get(0)).isEqualTo(Path.of("/usr/local/cuda/lib64"));
    assertThat(NativeLibrary.cudaDirectories(Map.of("CUDA_HOME", " ")).get(0))
        .isEqualTo(Path.of("/usr/local/cuda/lib64"));
  }

  @Test
  void versionedToolkitsAreNewestFirstAndOnlyOfTheirMajor(@TempDir Path usrLocal) throws Exception {
    for (String name : List.of("cuda-12.4", "cuda-12.10", "cuda-12", "cuda-13.0", "cuda-120", "cuda-12.6.1", "cudnn")) {
      Files.createDirectories(usrLocal.resolve(name));
    }
    assertThat(NativeLibrary.versionedToolkits(usrLocal, 12)).containsExactly(
        usrLocal.resolve("cuda-12.10/lib64"), usrLocal.resolve("cuda-12.6.1/lib64"),
        usrLocal.resolve("cuda-12.4/lib64"), usrLocal.resolve("cuda-12/lib64"));
    assertThat(NativeLibrary.versionedToolkits(usrLocal, 13)).containsExactly(usrLocal.resolve("cuda-13.0/lib64"));
    assertThat(NativeLibrary.versionedToolkits(usrLocal.resolve("absent"), 13)).isEmpty();
  }

  @Test
  void aMissingLibraryIsReportedWithEveryPlaceLooked(@TempDir Path a, @TempDir Path b) {
    NativeLibrary.Search s = NativeLibrary.find("libdoes-not-exist.so.7", List.of(a, b));
    assertThat(s.library()).isEmpty();
    assertThat(s.soname()).isEqualTo("libdoes-not-exist.so.7");
    assertThat(s.reason()).isEqualTo("libdoes-not-exist.so.7: not found (dynamic loader: libdoes-not-exist.so.7:"
        + " cannot open shared object file: No such file or directory; looked in " + a + ", " + b + ")");
  }

  @Test
  void aMissingDependencyIsNamed(@TempDir Path dir) throws Exception {
    assumeTrue(FakeLibraries.unavailable().isEmpty(), () -> FakeLibraries.unavailable().orElse(""));
    Files.writeString(dir.resolve("dep.c"), "int dep(void) { return 41; }\n");
    Files.writeString(dir.resolve("top.c"), "int dep(void);\nint top(void) { return dep() + 1; }\n");
    cc(dir, "-shared", "-fPIC", "-o", "libdep.so", "-Wl,-soname,libdep.so", "dep.c");
    cc(dir, "-shared", "-fPIC", "-o", "libtop.so.1", "-Wl,-soname,libtop.so.1", "top.c", "-L.", "-ldep");
    Files.delete(dir.resolve("libdep.so"));
    NativeLibrary.Search s = NativeLibrary.find("libtop.so.1", List.of(dir));
    // The FFM lookup only says "cannot open"; dlerror names the missing dependency.
    assertThat(s.library()).isEmpty();
    assertThat(s.reason()).isEqualTo("libtop.so.1: " + dir.resolve("libtop.so.1") + " does not load:"
        + " libdep.so: cannot open shared object file: No such file or directory (dynamic loader:"
        + " libtop.so.1: cannot open shared object file: No such file or directory; looked in " + dir + ")");
  }

  @Test
  void aFoundLibraryGivesItsSymbolsAndNamesAMissingOne(@TempDir Path dir) throws Throwable {
    assumeTrue(FakeLibraries.unavailable().isEmpty(), () -> FakeLibraries.unavailable().orElse(""));
    Files.writeString(dir.resolve("answer.c"), "int answer(int x) { return 40 + x; }\n");
    cc(dir, "-shared", "-fPIC", "-o", "libanswer.so.2", "-Wl,-soname,libanswer.so.2", "answer.c");
    NativeLibrary lib = NativeLibrary.find("libanswer.so.2", List.of(dir.resolve("absent"), dir))
        .library().orElseThrow();
    assertThat(lib.location()).isEqualTo(dir.resolve("libanswer.so.2").toString());
    assertThat(lib).hasToString("libanswer.so.2 at " + dir.resolve("libanswer.so.2"));
    int got = (int) lib.downcall("answer", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT))
        .invokeExact(2);
    assertThat(got).isEqualTo(42);
    assertThat(lib.symbol("question")).isEmpty();
    assertThatThrownBy(() -> lib.downcall("question", FunctionDescriptor.ofVoid()))
        .isInstanceOf(NoSuchElementException.class)
        .hasMessage("libanswer.so.2 at " + dir.resolve("libanswer.so.2") + " lacks the symbol question");
  }

  @Test
  void aLibraryOnTheLoaderPathIsLocatedToItsFile() throws Exception {
    // libc is loaded in every JVM; the loader resolves its soname without any directory.
    NativeLibrary libc = NativeLibrary.find("libc.so.6", List.of()).library().orElseThrow();
    assertThat(libc.location()).startsWith("/").endsWith("libc.so.6");
    assertThat(Path.of(libc.location())).isRegularFile();
    assertThat(libc).hasToString("libc.so.6 at " + libc.location());
  }

  @Test
  void refusesSonamesWithDirectories() {
    assertThatThrownBy(() -> NativeLibrary.find("/usr/lib/libc.so.6", List.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("plain file name");
  }

  private static void cc(Path dir, String... args) throws Exception {
    List<String> command = new java.util.ArrayList<>(List.of("cc"));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0).as("cc %s: %s", command, out).isTrue();
  }
}
