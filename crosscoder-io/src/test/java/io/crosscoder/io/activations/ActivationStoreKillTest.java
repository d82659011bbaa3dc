package io.crosscoder.io.activations;

import static org.assertj.core.api.Assertions.assertThat;

import io.crosscoder.model.FakeModels;
import io.crosscoder.model.FakeModels.ClosedFormModel;
import io.crosscoder.model.FakeModels.WordTokenizer;
import io.crosscoder.model.Harvester;
import io.crosscoder.model.Site;
import io.crosscoder.model.TokenBatch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A harvest into an {@link ActivationStore} killed with SIGKILL ({@link Process#destroyForcibly()})
 * in a child JVM at random moments, then run again to the end, leaves the same files, byte for
 * byte, as an uninterrupted harvest; no temporary file of a killed run trips the rerun.
 */
class ActivationStoreKillTest {
  private static final int KILLS = 5;

  /** The child: harvests into {@code args[0]}, each forward pass slowed so that kills land mid-way. */
  public static void main(String[] args) {
    ActivationStore.harvest(harvester(40), Path.of(args[0]), null, 50);
  }

  static Harvester harvester(long slowMillis) {
    String[] texts = new String[120];
    String[] words = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"};
    for (int i = 0; i < texts.length; i++) {
      StringBuilder sb = new StringBuilder();
      for (int w = 0; w < 3 + (i * 7) % 23; w++) {
        sb.append(words[(i + w * 3) % words.length]).append(' ');
      }
      texts[i] = sb.toString();
    }
    ClosedFormModel base = new ClosedFormModel("base", 3, 4, 1f, new WordTokenizer("a", false), 64) {
      @Override
      public Map<Site, float[]> forward(TokenBatch b, Collection<Site> s) {
        if (slowMillis > 0) {
          try {
            Thread.sleep(slowMillis);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
        return super.forward(b, s);
      }
    };
    return Harvester.builder().base(base)
        .target(new ClosedFormModel("target", 3, 4, -0.5f, new WordTokenizer("b", false), 64))
        .site(Site.residPost(1)).text(FakeModels.corpus(texts)).contextLength(8).batchSequences(3).build();
  }

  @Test
  void aHarvestKilledAtRandomMomentsEndsWithTheFilesOfAnUninterruptedOne(@TempDir Path dir) throws Exception {
    Path whole = dir.resolve("whole");
    ActivationStore.harvest(harvester(0), whole, null, 50);
    Path part = dir.resolve("part");
    SplittableRandom random = new SplittableRandom(12);
    int kills = 0;
    int launches = 0;
    while (kills < KILLS) {
      Process p = launch(part, dir.resolve("child-" + launches++ + ".log"));
      Thread.sleep(500 + random.nextInt(2000));
      if (!p.isAlive()) {
        assertThat(p.exitValue()).isZero();
        deleteTree(part);
        kills = 0;
        continue;
      }
      p.destroyForcibly();
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      kills++;
    }
    Process last = launch(part, dir.resolve("child-last.log"));
    assertThat(last.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(last.exitValue()).as(Files.readString(dir.resolve("child-last.log"))).isZero();
    List<String> names = names(whole);
    assertThat(names(part)).isEqualTo(names);
    long bytes = 0;
    for (String n : names) {
      byte[] expected = Files.readAllBytes(whole.resolve(n));
      assertThat(Files.readAllBytes(part.resolve(n))).as(n).isEqualTo(expected);
      bytes += expected.length;
    }
    assertThat(names).contains("shard-00002.safetensors");
    System.out.printf("ActivationStoreKillTest: %d kills, %d files and %d bytes identical%n", kills, names.size(),
        bytes);
  }

  private static Process launch(Path folder, Path log) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC",
        "-Xmx256m", "-cp", System.getProperty("java.class.path"), ActivationStoreKillTest.class.getName(),
        folder.toString()));
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  private static List<String> names(Path p) throws IOException {
    try (Stream<Path> s = Files.list(p)) {
      return s.map(x -> x.getFileName().toString()).filter(n -> !n.equals(".lock")).sorted().toList();
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (Files.exists(p)) {
      try (Stream<Path> s = Files.list(p)) {
        for (Path x : s.toList()) {
          Files.delete(x);
        }
      }
    }
  }
}
