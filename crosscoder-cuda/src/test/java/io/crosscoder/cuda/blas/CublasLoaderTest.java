package io.crosscoder.cuda.blas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The loader on a machine without cuBLAS; skipped, with the reason, where cuBLAS is installed. */
class CublasLoaderTest {

  @Test
  void reportsEveryAttemptWithAReasonAndNeverThrows() {
    CublasLoader.Loaded loaded = CublasLoader.load("auto");
    assumeFalse(loaded.available(), () -> "cuBLAS is installed here: " + loaded.description());

    assertThat(loaded.attempts()).hasSize(3);
    assertThat(loaded.attempts().get(0)).startsWith("JCublas 12.6.0 needs libcublas.so.12: ")
        .contains("libcublas.so.12");
    assertThat(loaded.attempts().get(1)).startsWith("libcublas.so.13: ");
    assertThat(loaded.attempts().get(2)).startsWith("libcublas.so.12: ");
    assertThat(loaded.description())
        .startsWith("no cuBLAS: JCublas 12.6.0 needs libcublas.so.12: ")
        .contains("; libcublas.so.13: ", "; libcublas.so.12: ", "LD_LIBRARY_PATH", "CUDA_HOME")
        .doesNotContain("\n");
    assertThatThrownBy(loaded::create)
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(loaded.description());
  }

  @Test
  void jcublasFailureIsTheLoadersComplaintNotJCudasStackTraces() {
    CublasLoader.Loaded first = CublasLoader.load("jcublas");
    assumeFalse(first.available(), () -> "JCublas loads here: " + first.description());
    // The second attempt meets NoClassDefFoundError, whose cause holds the first failure's text.
    CublasLoader.Loaded second = CublasLoader.load("jcublas");
    for (CublasLoader.Loaded l : List.of(first, second)) {
      assertThat(l.attempts()).singleElement().asString()
          .isEqualTo("JCublas 12.6.0 needs libcublas.so.12: libcublas.so.12: cannot open shared object file:"
              + " No such file or directory");
      assertThat(l.description()).startsWith("no cuBLAS (crosscoder.cuda.blas=jcublas): JCublas 12.6.0");
    }
  }

  @Test
  void ffmPreferenceSkipsJCublasAndNamesWhereItLooked(@TempDir Path empty) {
    CublasLoader.Loaded loaded = CublasLoader.load(" FFM ", List.of(empty));
    assumeFalse(loaded.available(), () -> "cuBLAS is on the loader path here: " + loaded.description());
    assertThat(loaded.attempts()).hasSize(2);
    assertThat(loaded.attempts().get(0))
        .isEqualTo("libcublas.so.13: not found (dynamic loader: libcublas.so.13: cannot open shared object file:"
            + " No such file or directory; looked in " + empty + ")");
    assertThat(loaded.attempts().get(1)).startsWith("libcublas.so.12: not found (dynamic loader: libcublas.so.12:");
    assertThat(loaded.description()).startsWith("no cuBLAS (crosscoder.cuda.blas=ffm): libcublas.so.13: not found");
  }

  @Test
  void refusesUnknownPreferencesNamingTheAllowedValues() {
    assertThatThrownBy(() -> CublasLoader.load("nonsense"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'nonsense'")
        .hasMessageContaining("auto, jcublas, ffm");
    assertThatThrownBy(() -> CublasLoader.load(null)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void extractsTheLoaderLineFromJCudasMessage() {
    String jcuda = """
        Error while loading native library "JCublas2-12.6.0-linux-x86_64"
        ---(start of nested stack traces)---
        Stack trace from the attempt to load the library as a file:
        java.lang.UnsatisfiedLinkError: no JCublas2-12.6.0-linux-x86_64 in java.library.path: /usr/lib
        \tat java.base/java.lang.ClassLoader.loadLibrary(ClassLoader.java:2285)
        Stack trace from the attempt to load the library as a resource:
        java.lang.UnsatisfiedLinkError: /tmp/libJCublas2-12.6.0-linux-x86_64.so: libcublasLt.so.12: cannot open shared object file: No such file or directory
        \tat java.base/jdk.internal.loader.NativeLibraries.load(Native Method)
        ---(end of nested stack traces)---
        """;
    assertThat(CublasLoader.JCublasProbe.reason(new UnsatisfiedLinkError(jcuda)))
        .isEqualTo("libcublasLt.so.12: cannot open shared object file: No such file or directory");
    NoClassDefFoundError later = new NoClassDefFoundError("Could not initialize class jcuda.jcublas.JCublas2");
    later.initCause(new ExceptionInInitializerError("Exception java.lang.UnsatisfiedLinkError: " + jcuda));
    assertThat(CublasLoader.JCublasProbe.reason(later))
        .isEqualTo("libcublasLt.so.12: cannot open shared object file: No such file or directory");
    assertThat(CublasLoader.JCublasProbe.reason(new NoClassDefFoundError("jcuda/jcublas/JCublas2")))
        .isEqualTo("NoClassDefFoundError: jcuda/jcublas/JCublas2");
  }
}
