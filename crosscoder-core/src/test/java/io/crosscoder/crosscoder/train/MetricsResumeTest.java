package io.crosscoder.crosscoder.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link JsonLinesMetricsWriter#resume}: the lines a killed run wrote after its checkpoint, and a
 * torn last line, are cut off, so that the resumed run's lines follow the checkpoint's step.
 */
class MetricsResumeTest {
  @TempDir Path dir;

  private static TrainingMetrics metrics(long step) {
    return new TrainingMetrics(step, 100, step * 8, 1.0 / step, 0, 0, 1.0 / step, 3, 0.5, 0.5, 0, 1e-3f, 0, 1,
        Float.NaN);
  }

  @Test
  void linesAfterTheCheckpointAndATornLineAreCutOff() throws Exception {
    Path file = dir.resolve("m.jsonl");
    try (JsonLinesMetricsWriter w = JsonLinesMetricsWriter.open(file, false)) {
      for (long s = 1; s <= 13; s++) {
        w.onProgress(metrics(s));
      }
    }
    List<String> all = Files.readAllLines(file);
    // A kill in the middle of a write leaves part of a line.
    Files.writeString(file, "{\"step\":14,\"tok", StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.APPEND);
    try (JsonLinesMetricsWriter w = JsonLinesMetricsWriter.resume(file, 10)) {
      for (long s = 11; s <= 15; s++) {
        w.onProgress(metrics(s));
      }
    }
    List<String> lines = Files.readAllLines(file);
    assertThat(lines).hasSize(15);
    assertThat(lines.subList(0, 13)).isEqualTo(all);
    for (int i = 0; i < lines.size(); i++) {
      assertThat(lines.get(i)).startsWith("{\"step\":" + (i + 1) + ",");
    }
    // Resuming at the last step keeps everything; a missing file is created.
    long size = Files.size(file);
    JsonLinesMetricsWriter.resume(file, 15).close();
    assertThat(Files.size(file)).isEqualTo(size);
    Path missing = dir.resolve("new.jsonl");
    JsonLinesMetricsWriter.resume(missing, 4).close();
    assertThat(Files.readAllBytes(missing)).isEmpty();
    List<String> none = new ArrayList<>(Files.readAllLines(file));
    JsonLinesMetricsWriter.resume(file, 0).close();
    assertThat(Files.readAllLines(file)).isEmpty();
    assertThat(none).hasSize(15);
  }
}
