package io.crosscoder.fuzz;

import static io.crosscoder.fuzz.FuzzSupport.expectValidOrRefused;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.io.safetensors.SafetensorsFormat;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * A sharded checkpoint's {@code model.safetensors.index.json}, beside two valid shards
 * ({@link Seeds#shards()}), opened as the folder.
 *
 * <p>Contract: {@link FuzzSupport#expectValidOrRefused}. Seeds: {@link Seeds}. A normal build runs
 * the seeds once each (regression mode) and then fuzzes the target for a few seconds; {@code
 * -Pfuzz-long} fuzzes it for long (see the module's README).
 */
class ShardIndexFuzzTest {
  private static final Path DIR = FuzzSupport.folder("ShardIndexFuzzTest");

  static {
    Seeds.shards().forEach((name, bytes) -> FuzzSupport.write(DIR, name, bytes));
  }

  @Timeout(value = 10, unit = TimeUnit.SECONDS)
  @FuzzTest
  void fuzz(byte[] input) throws Exception {
    FuzzSupport.write(DIR, "model.safetensors.index.json", input);
    expectValidOrRefused(DIR, () -> {
      try (Checkpoint c = new SafetensorsFormat().open(DIR)) {
        FuzzSupport.touchAll(c);
      }
    });
  }
}
