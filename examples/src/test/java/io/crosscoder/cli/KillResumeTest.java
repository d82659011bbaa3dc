package io.crosscoder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.crosscoder.io.activations.PlantedDictionary;
import io.crosscoder.tensor.DType;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code crosscoder train} survives {@code kill -9} exactly: a child JVM running the command is
 * killed with SIGKILL ({@link Process#destroyForcibly()}) at 20 random moments (during steps,
 * during checkpoint writes, during start-up), the same command is run again until it finishes, and
 * the crosscoder file and the metrics file must be byte-identical to those of an uninterrupted run
 * of the same command. The uninterrupted run is made in this JVM (its JIT warm from other work) and
 * the killed ones in fresh child JVMs, killed while still interpreting or compiling, so the
 * comparison also shows that the arithmetic does not depend on the JIT state.
 */
class KillResumeTest {
  private static final int KILLS = 20;

  @Test
  void trainKilledTwentyTimesEndsByteIdenticalToAnUninterruptedRun(@TempDir Path dir) throws Exception {
    Path acts = dir.resolve("acts");
    PlantedDictionary.of(new PlantedDictionary.Spec(16, 12, 0, 6, 6, 0, 0.1, 1.0, 0.01, 7))
        .writeShards(acts, 4000, 1500, DType.F32, 1);

    Path ref = dir.resolve("ref");
    Files.createDirectories(ref);
    StringWriter err = new StringWriter();
    int status = CrosscoderCli.run(args(acts, ref.resolve("cc.safetensors")), new PrintWriter(new StringWriter(), true),
        new PrintWriter(err, true));
    assertThat(status).as(err.toString()).isZero();

    Path run = dir.resolve("run");
    Files.createDirectories(run);
    Path out = run.resolve("cc.safetensors");
    Path metrics = run.resolve("cc.safetensors.metrics.jsonl");
    Path checkpoint = run.resolve("cc.safetensors.ckpt");
    SplittableRandom random = new SplittableRandom(20261204L);
    int kills = 0;
    int duringCheckpointWrite = 0;
    int launches = 0;
    while (kills < KILLS) {
      long before = Files.exists(metrics) ? Files.size(metrics) : -1;
      Process p = launch(acts, out, dir.resolve("child-" + launches++ + ".log"));
      // Half the kills at a random moment after launch (start-up, normalisation, the first steps),
      // half at a random moment after the child has made progress (steps and checkpoint writes).
      boolean afterProgress = random.nextBoolean();
      if (afterProgress) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (p.isAlive() && (Files.exists(metrics) ? Files.size(metrics) : -1) <= before
            && System.nanoTime() < deadline) {
          Thread.sleep(5);
        }
      }
      Thread.sleep(random.nextInt(afterProgress ? 250 : 1500));
      if (!p.isAlive()) {
        // It finished before the kill: the run is over sooner than planned. The ending is still
        // compared below, but the test wants its 20 kills, so start again from nothing.
        assertThat(p.exitValue()).as(Files.readString(dir.resolve("child-" + (launches - 1) + ".log"))).isZero();
        deleteRun(run);
        kills = 0;
        duringCheckpointWrite = 0;
        continue;
      }
      p.destroyForcibly();
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      kills++;
      if (Files.exists(run.resolve("cc.safetensors.ckpt.tmp"))) {
        duringCheckpointWrite++;
      }
    }
    Process last = launch(acts, out, dir.resolve("child-last.log"));
    assertThat(last.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(last.exitValue()).as(Files.readString(dir.resolve("child-last.log"))).isZero();

    byte[] refCoder = Files.readAllBytes(ref.resolve("cc.safetensors"));
    byte[] refMetrics = Files.readAllBytes(ref.resolve("cc.safetensors.metrics.jsonl"));
    assertThat(Files.readAllBytes(out)).isEqualTo(refCoder);
    assertThat(Files.readAllBytes(metrics)).isEqualTo(refMetrics);
    assertThat(Files.readAllLines(metrics)).hasSize(STEPS);
    assertThat(checkpoint).doesNotExist();
    try (Stream<Path> left = Files.list(run)) {
      assertThat(left.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder("cc.safetensors", "cc.safetensors.metrics.jsonl", "cc.safetensors.lock");
    }
    System.out.printf("KillResumeTest: %d kills (%d while a checkpoint was being written), %d launches;"
        + " %d crosscoder bytes and %d metrics bytes identical%n", kills, duringCheckpointWrite, launches + 1,
        refCoder.length, refMetrics.length);
  }

  private static final int STEPS = 600;

  private static String[] args(Path acts, Path out) {
    return new String[] {"train", acts.toString(), "--dict-size", "32", "--sparsity", "batchtopk:2", "--steps",
        Integer.toString(STEPS), "--batch", "64", "--seed", "3", "--checkpoint-every", "3", "--out", out.toString(),
        "--backend", "cpu", "--no-progress"};
  }

  /** The command in a child JVM with this JVM's class path, output to {@code log}. */
  private static Process launch(Path acts, Path out, Path log) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow", "-XX:+UseSerialGC", "-Xmx256m",
        "-cp", System.getProperty("java.class.path"), CrosscoderCli.class.getName()));
    cmd.addAll(List.of(args(acts, out)));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().remove("CROSSCODER_BACKEND");
    return pb.start();
  }

  private static void deleteRun(Path run) throws IOException {
    try (Stream<Path> s = Files.list(run)) {
      for (Path p : s.toList()) {
        Files.delete(p);
      }
    }
  }
}
