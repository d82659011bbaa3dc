package io.crosscoder.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.crosscoder.CrosscoderTraining;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.crosscoder.TrainingResult;
import io.crosscoder.crosscoder.analysis.CrosscoderReport;
import io.crosscoder.crosscoder.train.TrainingMetrics;
import io.crosscoder.io.activations.ActivationShards;
import io.crosscoder.io.activations.PlantedDictionary;
import io.crosscoder.io.crosscoder.CrosscoderFiles;
import io.crosscoder.progress.ProgressListener;
import io.crosscoder.report.ReportFormat;
import io.crosscoder.tensor.DType;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Java front door ({@link CrosscoderTraining}) and {@code crosscoder train} are one thing: the
 * same activations and options give the same crosscoder file, byte for byte, and the same metrics
 * lines; a run stopped mid-way resumes from its checkpoint and ends where an uninterrupted one does.
 */
class CrosscoderTrainingTest {
  @TempDir static Path shared;
  static Path acts;

  @BeforeAll
  static void plant() {
    PlantedDictionary p = PlantedDictionary.of(new PlantedDictionary.Spec(32, 12, 0, 6, 6, 0, 0.1, 1.0, 0.01, 3));
    acts = shared.resolve("acts");
    p.writeShards(acts, 12000, 5000, DType.F32, 1);
  }

  static Stream<Arguments> runs() {
    return Stream.of(
        Arguments.of("batchtopk:3", Sparsity.batchTopK(3), 0.0, null),
        Arguments.of("l1:0.5", Sparsity.l1(0.5), 0.125, 2e-3),
        Arguments.of("batchtopk:4", Sparsity.batchTopK(4), 0.125, 3e-3));
  }

  @ParameterizedTest(name = "{0}, shared {2}, lr {3}")
  @MethodSource("runs")
  void theFrontDoorTrainsWhatTheCliTrains(String option, Sparsity sparsity, double sharedFraction, Double lr,
      @TempDir Path dir) throws Exception {
    Path cli = dir.resolve("cli.safetensors");
    List<String> args = new ArrayList<>(List.of("train", acts.toString(), "--dict-size", "48", "--sparsity", option,
        "--shared-fraction", Double.toString(sharedFraction), "--steps", "120", "--batch", "256", "--seed", "5",
        "--checkpoint-every", "50", "--out", cli.toString(), "--no-progress"));
    if (lr != null) {
      args.addAll(List.of("--lr", lr.toString()));
    }
    StringWriter err = new StringWriter();
    int status = CrosscoderCli.run(args.toArray(String[]::new), new PrintWriter(new StringWriter(), true),
        new PrintWriter(err, true));
    assertThat(status).as(err.toString()).isZero();

    Path java = dir.resolve("java.safetensors");
    CrosscoderTraining.Builder b = CrosscoderTraining.builder().dictionarySize(48).sparsity(sparsity)
        .sharedFraction(sharedFraction).steps(120).batchSize(256).seed(5)
        .checkpoint(dir.resolve("java.ckpt"), 50).metricsFile(dir.resolve("java.metrics.jsonl"));
    if (lr != null) {
      b.learningRate(lr);
    }
    TrainingResult result;
    try (ActivationShards source = ActivationShards.open(acts)) {
      result = b.build().train(source);
    }
    CrosscoderFiles.save(java, result.crosscoder());

    assertThat(Files.readAllBytes(java)).isEqualTo(Files.readAllBytes(cli));
    assertThat(Files.readAllLines(dir.resolve("java.metrics.jsonl")))
        .isEqualTo(Files.readAllLines(dir.resolve("cli.safetensors.metrics.jsonl")));
    assertThat(result.lastStep().step()).isEqualTo(120);
    assertThat(result.resumedFromStep()).isZero();
    assertThat(result.crosscoder().config().sparsity().getClass()).isEqualTo(sparsity.getClass());
    assertThat(result.crosscoder().config().sharedLatents()).isEqualTo((int) Math.round(sharedFraction * 48));
    // analyze is the same short way: the report of the result on held-out activations.
    StringWriter json = new StringWriter();
    assertThat(CrosscoderCli.run(new String[] {"analyze", java.toString(), "--activations", acts.toString(),
        "--max-tokens", "3000", "--format", "json"}, new PrintWriter(json, true), new PrintWriter(err, true))).isZero();
    try (ActivationShards source = ActivationShards.open(acts)) {
      CrosscoderReport report = CrosscoderReport.of("java.safetensors", result.crosscoder(), source, 3000);
      assertThat(json.toString()).isEqualTo(report.render(ReportFormat.JSON));
      assertThat(result.report(source, 3000).classCounts()).isEqualTo(report.classCounts());
      assertThat(report.evaluation().orElseThrow().tokens()).isEqualTo(3000);
    }
    // The CLI deletes its checkpoint once the crosscoder is saved; the front door keeps its own.
    assertThat(dir.resolve("cli.safetensors.ckpt")).doesNotExist();
    assertThat(dir.resolve("java.ckpt")).exists();
  }

  @Test
  void aStoppedRunResumesFromItsCheckpointAndEndsWhereAnUninterruptedOneDoes(@TempDir Path dir) throws Exception {
    CrosscoderTraining.Builder common = CrosscoderTraining.builder().dictionarySize(48).sparsity(Sparsity.batchTopK(3))
        .steps(90).batchSize(256).seed(2).learningRate(3e-3);
    TrainingResult straight;
    try (ActivationShards source = ActivationShards.open(acts)) {
      straight = common.build().train(source);
    }

    Path ckpt = dir.resolve("run.ckpt");
    Path metrics = dir.resolve("run.metrics.jsonl");
    ProgressListener killAt55 = ProgressListener.on(TrainingMetrics.class, m -> {
      if (m.step() == 55) {
        throw new IllegalStateException("killed at step 55");
      }
    });
    try (ActivationShards source = ActivationShards.open(acts)) {
      CrosscoderTraining killed = common.checkpoint(ckpt, 20).metricsFile(metrics).progress(killAt55).build();
      assertThatThrownBy(() -> killed.train(source)).hasMessage("killed at step 55");
    }
    assertThat(ckpt).exists();
    TrainingResult resumed;
    try (ActivationShards source = ActivationShards.open(acts)) {
      resumed = common.progress(ProgressListener.NONE).build().train(source);
    }
    assertThat(resumed.resumedFromStep()).isEqualTo(40);
    assertThat(resumed.crosscoder().decoderWeights()).isEqualTo(straight.crosscoder().decoderWeights());
    assertThat(resumed.crosscoder().encoderWeights()).isEqualTo(straight.crosscoder().encoderWeights());
    assertThat(resumed.crosscoder().config()).isEqualTo(straight.crosscoder().config());
    assertThat(resumed.lastStep()).isEqualTo(straight.lastStep());
    // Steps 1..55 were written before the stop (55 threw after being recorded); the resume cut the
    // file back to the checkpoint's step 40 and wrote 41..90: one line per step, in order.
    List<String> lines = Files.readAllLines(metrics);
    assertThat(lines).hasSize(90);
    for (int i = 0; i < lines.size(); i++) {
      assertThat(lines.get(i)).startsWith("{\"step\":" + (i + 1) + ",");
    }

    // Run again: the checkpoint holds the finished run, so the same crosscoder comes back at once.
    TrainingResult again;
    try (ActivationShards source = ActivationShards.open(acts)) {
      again = common.build().train(source);
    }
    assertThat(again.resumedFromStep()).isEqualTo(90);
    assertThat(again.crosscoder().decoderWeights()).isEqualTo(straight.crosscoder().decoderWeights());
    assertThat(again.lastStep().step()).isEqualTo(90);
  }
}
