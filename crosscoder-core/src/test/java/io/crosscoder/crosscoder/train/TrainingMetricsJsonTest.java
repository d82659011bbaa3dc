package io.crosscoder.crosscoder.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The training metrics JSON Lines in the project's one JSON style (snake_case keys, {@code null}
 * for a non-finite number), read back field by field; and files in the older camelCase form with
 * {@code "NaN"} strings still read.
 */
class TrainingMetricsJsonTest {
  /** Step s: every field a distinct value, so that a field read from the wrong key cannot pass. */
  private static TrainingMetrics metrics(long s, long total) {
    return new TrainingMetrics(s, total, 4096 * s, 1.5 / s, 0.25 / s, 0.125 / s, 1.875 / s, 30 + s, 0.5 + 0.01 * s,
        0.6 + 0.01 * s, 0.001 * s, 1e-4 * s, 2.0 + s, 3.0 + s, s == 1 ? Double.NaN : 0.75 * s);
  }

  @Test
  void everyFieldWrittenReadsBackUnderItsSnakeCaseKey(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("metrics.jsonl");
    StringWriter text = new StringWriter();
    try (JsonLinesMetricsWriter w = new JsonLinesMetricsWriter(text)) {
      for (long s = 1; s <= 3; s++) {
        w.onProgress(metrics(s, 3));
      }
      // A diverged step: infinite and NaN values are written as null.
      w.onProgress(new TrainingMetrics(4, 4, 16384, Double.POSITIVE_INFINITY, Double.NaN, 0, 0, 0, 0, 0, 0, 0, 0,
          Double.NEGATIVE_INFINITY, 0));
    }
    String first = text.toString().lines().findFirst().orElseThrow();
    assertThat(first).startsWith("{\"step\":1,\"tokens\":4096,\"reconstruction_loss\":1.5,")
        .contains("\"explained_variance_base\":0.51", "\"threshold\":null").doesNotContain("NaN", "Loss");
    assertThat(text.toString().lines().toList().get(3)).contains("\"reconstruction_loss\":null",
        "\"sparsity_loss\":null", "\"gradient_norm\":null").doesNotContain("Infinity");
    Files.writeString(file, text.toString());

    List<TrainingMetrics> read = TrainingMetricsFile.read(file, 100);
    assertThat(read).hasSize(4);
    for (int i = 0; i < 3; i++) {
      // totalSteps is not written: the reader takes the last step of the file (4).
      TrainingMetrics want = metrics(i + 1, 4);
      assertThat(read.get(i)).isEqualTo(want);
    }
    TrainingMetrics diverged = read.get(3);
    assertThat(diverged.reconstructionLoss()).isNaN();
    assertThat(diverged.sparsityLoss()).isNaN();
    assertThat(diverged.gradientNorm()).isNaN();
    assertThat(diverged.auxiliaryLoss()).isZero();
  }

  @Test
  void theOlderCamelCaseFormWithNanStringsStillReads(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("old.jsonl");
    Files.writeString(file, """
        {"step":1,"tokens":4096,"reconstructionLoss":1.5,"sparsityLoss":0.25,"auxiliaryLoss":0.125,"totalLoss":1.875,\
        "l0":31.0,"explainedVarianceBase":0.51,"explainedVarianceTarget":0.61,"deadFraction":0.001,\
        "learningRate":1.0E-4,"lambda":3.0,"gradientNorm":4.0,"threshold":"NaN"}
        {"step":2,"tokens":8192,"reconstructionLoss":"Infinity","sparsityLoss":0.125,"auxiliaryLoss":0.0625,\
        "totalLoss":"-Infinity","l0":32.0,"explainedVarianceBase":0.52,"explainedVarianceTarget":0.62,\
        "deadFraction":0.002,"learningRate":2.0E-4,"lambda":4.0,"gradientNorm":5.0,"threshold":1.5}
        """);
    List<TrainingMetrics> read = TrainingMetricsFile.read(file, 100);
    assertThat(read.get(0)).isEqualTo(new TrainingMetrics(1, 2, 4096, 1.5, 0.25, 0.125, 1.875, 31, 0.51, 0.61, 0.001,
        1e-4, 3, 4, Double.NaN));
    assertThat(read.get(1)).isEqualTo(new TrainingMetrics(2, 2, 8192, Double.POSITIVE_INFINITY, 0.125, 0.0625,
        Double.NEGATIVE_INFINITY, 32, 0.52, 0.62, 0.002, 2e-4, 4, 5, 1.5));
  }
}
