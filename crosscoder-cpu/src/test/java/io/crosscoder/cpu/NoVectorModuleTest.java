package io.crosscoder.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * In a JVM started without {@code --add-modules jdk.incubator.vector} the backend must load, say
 * why it is scalar and how to fix it, and compute; a JVM that tried to link the vector kernel
 * there would fail with {@link NoClassDefFoundError} instead.
 */
class NoVectorModuleTest {
  @Test
  void fallsBackToScalarWithAnActionableReason() throws IOException, InterruptedException {
    String out = runChild();
    assertThat(out)
        .contains("reason=scalar: jdk.incubator.vector is not enabled; run java with --add-modules"
            + " jdk.incubator.vector for the Vector API kernels")
        .contains("description=cpu: scalar (jdk.incubator.vector is not enabled")
        .contains("dot=32.0")
        .contains("WARNING"); // the one log line, through java.util.logging's default console handler
  }

  @Test
  void fallsBackToScalarWithoutTheOptimizingCompiler() throws IOException, InterruptedException {
    String out = runChild("--add-modules", "jdk.incubator.vector", "-XX:TieredStopAtLevel=1");
    assertThat(out)
        .containsPattern("reason=scalar: Vector API present but not used: .*TieredStopAtLevel=1.*C2 compiler")
        .contains("dot=32.0");
  }

  private static String runChild(String... flags) throws IOException, InterruptedException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    List<String> command = new ArrayList<>(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED"));
    command.addAll(List.of(flags));
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), NoVectorModuleMain.class.getName()));
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.redirectErrorStream(true);
    Process p = pb.start();
    // Read before waiting, so a chatty child cannot block on a full pipe.
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    boolean done = p.waitFor(60, TimeUnit.SECONDS);
    if (!done) {
      p.destroyForcibly();
    }
    assertThat(done).as("child JVM finished").isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }
}
