package io.crosscoder.fuzz;

import static io.crosscoder.fuzz.FuzzSupport.expectValidOrRefused;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.io.safetensors.SafetensorsFormat;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * A whole {@code .safetensors} file, opened through {@link SafetensorsFormat} and every tensor sampled.
 *
 * <p>Contract: {@link FuzzSupport#expectValidOrRefused}. Seeds: {@link Seeds}. A normal build runs
 * the seeds once each (regression mode) and then fuzzes the target for a few seconds; {@code
 * -Pfuzz-long} fuzzes it for long (see the module's README).
 */
class SafetensorsFileFuzzTest {
  private static final Path DIR = FuzzSupport.folder("SafetensorsFileFuzzTest");

  @Timeout(value = 10, unit = TimeUnit.SECONDS)
  @FuzzTest
  void fuzz(byte[] input) throws Exception {
    Path file = FuzzSupport.write(DIR, "model.safetensors", input);
    expectValidOrRefused(file, () -> {
      try (Checkpoint c = new SafetensorsFormat().open(file)) {
        FuzzSupport.touchAll(c);
      }
    });
  }
}
