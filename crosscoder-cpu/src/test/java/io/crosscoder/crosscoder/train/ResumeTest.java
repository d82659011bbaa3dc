package io.crosscoder.crosscoder.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.InvalidInputException;
import io.crosscoder.cpu.kernels.CpuKernels;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.progress.ProgressListener;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** A run killed and resumed from its checkpoint ends bit-identical to an uninterrupted one. */
class ResumeTest {
  private static CpuKernels kernels;

  @BeforeAll
  static void open() {
    kernels = new CpuKernels(2, true);
  }

  @AfterAll
  static void close() {
    kernels.close();
  }

  /** The two objectives: L1 with the default coefficient 2, BatchTopK with k = 3. */
  static Stream<Sparsity> objectives() {
    return Stream.of(Sparsity.l1(2), Sparsity.batchTopK(3));
  }

  private static TrainingConfig config(Sparsity v) {
    return TrainingConfig.builder().sparsity(v).dictionarySize(24).batchSize(16).steps(12)
        .learningRate(3e-3f).warmupSteps(3).sharedFraction(0.25).deadTokens(32)
        .thresholdStartStep(2).seed(99).build();
  }

  @ParameterizedTest
  @MethodSource("objectives")
  void resumedRunIsBitIdentical(Sparsity v, @TempDir Path dir) throws Exception {
    TrainingConfig config = config(v);
    TrainedWeights straight;
    List<TrainingMetrics> straightMetrics = new ArrayList<>();
    try (CrosscoderTrainer t = CrosscoderTrainer.start(kernels, config, TestData.gaussian(7, 6))) {
      straight = t.train(ProgressListener.on(TrainingMetrics.class, straightMetrics::add));
    }
    Path ckpt = dir.resolve("run.ckpt");
    List<TrainingMetrics> resumedMetrics = new ArrayList<>();
    try (CrosscoderTrainer t = CrosscoderTrainer.start(kernels, config, TestData.gaussian(7, 6))) {
      t.run(5, ProgressListener.on(TrainingMetrics.class, resumedMetrics::add), ckpt, 2);
      assertThat(t.step()).isEqualTo(5);
      t.trainStep(); // work after the last checkpoint is lost with the "killed" trainer
    }
    assertThat(Files.list(dir).map(p -> p.getFileName().toString())).containsExactly("run.ckpt");
    TrainedWeights resumed;
    try (CrosscoderTrainer t = CrosscoderTrainer.resume(kernels, config, TestData.gaussian(7, 6), ckpt)) {
      assertThat(t.step()).isEqualTo(5);
      resumed = t.train(ProgressListener.on(TrainingMetrics.class, resumedMetrics::add));
    }
    assertThat(resumed.wEnc()).isEqualTo(straight.wEnc());
    assertThat(resumed.wDec()).isEqualTo(straight.wDec());
    assertThat(resumed.bEnc()).isEqualTo(straight.bEnc());
    assertThat(resumed.bDec()).isEqualTo(straight.bDec());
    assertThat(Float.floatToRawIntBits(resumed.threshold())).isEqualTo(Float.floatToRawIntBits(straight.threshold()));
    assertThat(resumedMetrics).isEqualTo(straightMetrics);
    if (v instanceof Sparsity.BatchTopK) {
      assertThat(straight.threshold()).isPositive();
      assertThat(straightMetrics.get(11).deadFraction()).as("dead latents and the auxiliary loss took part")
          .isGreaterThan(0);
    } else {
      assertThat(straight.threshold()).isNaN();
    }
    // Shared latents keep one decoder vector.
    for (int i = 0; i < straight.sharedLatents(); i++) {
      for (int j = 0; j < 6; j++) {
        assertThat(straight.wDec()[i * 12 + 6 + j]).isEqualTo(straight.wDec()[i * 12 + j]);
      }
    }
  }

  @ParameterizedTest
  @MethodSource("objectives")
  void checkpointOfAnotherRunIsRefused(Sparsity v, @TempDir Path dir) throws Exception {
    Path ckpt = dir.resolve("a.ckpt");
    try (CrosscoderTrainer t = CrosscoderTrainer.start(kernels, config(v), TestData.gaussian(7, 6))) {
      t.run(1, ProgressListener.NONE, ckpt, 0);
    }
    TrainingConfig other = config(v).toBuilder().seed(100).build();
    assertThatThrownBy(() -> CrosscoderTrainer.resume(kernels, other, TestData.gaussian(7, 6), ckpt))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("config.seed").hasMessageContaining("a.ckpt");
    assertThatThrownBy(() -> CrosscoderTrainer.resume(kernels, config(v), TestData.gaussian(7, 5), ckpt))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("width");
    byte[] bytes = Files.readAllBytes(ckpt);
    Files.write(ckpt, java.util.Arrays.copyOf(bytes, bytes.length - 100));
    assertThatThrownBy(() -> CrosscoderTrainer.resume(kernels, config(v), TestData.gaussian(7, 6), ckpt))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("outside the file");
    Files.write(ckpt, new byte[] {'X', 'C', 'T', 'R', 'A', 'I', 'N', '1', -1, -1, -1, -1, -1, -1, -1, 127});
    assertThatThrownBy(() -> CrosscoderTrainer.resume(kernels, config(v), TestData.gaussian(7, 6), ckpt))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("header length");
  }

  @Test
  void checkpointOfTheCamelCaseFormatIsRefusedSayingWhatToDo(@TempDir Path dir) throws Exception {
    Path ckpt = dir.resolve("old.ckpt");
    byte[] json = "{\"format\":1,\"config\":{\"dictionarySize\":8}}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(16 + json.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.put("XCTRAIN1".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putLong(json.length).put(json);
    Files.write(ckpt, b.array());
    Sparsity v = Sparsity.l1(1);
    assertThatThrownBy(() -> CrosscoderTrainer.resume(kernels, config(v), TestData.gaussian(7, 6), ckpt))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("old.ckpt")
        .hasMessageContaining("checkpoint format 1").hasMessageContaining("delete it");
  }

  @ParameterizedTest
  @MethodSource("objectives")
  void metricsAreWrittenAsJsonLines(Sparsity v) throws Exception {
    StringWriter out = new StringWriter();
    try (CrosscoderTrainer t = CrosscoderTrainer.start(kernels, config(v), TestData.gaussian(7, 6));
        JsonLinesMetricsWriter w = new JsonLinesMetricsWriter(out)) {
      t.run(3, w, null, 0);
    }
    String[] lines = out.toString().split("\n");
    assertThat(lines).hasSize(3);
    var node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(lines[2]);
    assertThat(node.get("step").asLong()).isEqualTo(3);
    assertThat(node.get("tokens").asLong()).isEqualTo(48);
    assertThat(node.get("reconstruction_loss").isDouble()).isTrue();
    // Every key, in order, snake_case like the other files the project writes.
    java.util.List<String> keys = new java.util.ArrayList<>();
    node.fieldNames().forEachRemaining(keys::add);
    assertThat(keys).isEqualTo(JsonLinesMetricsWriter.KEYS).allMatch(k -> k.matches("[a-z0-9_]+"));
    if (v instanceof Sparsity.L1) {
      // No threshold in an L1 run: NaN in the record, null in JSON (not the string "NaN").
      assertThat(node.get("threshold").isNull()).isTrue();
    } else {
      assertThat(node.get("threshold").isDouble()).isTrue();
    }
  }
}
