package io.crosscoder.fuzz;

import static io.crosscoder.fuzz.FuzzSupport.expectValidOrRefused;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.io.activations.ActivationShards;
import java.util.Iterator;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * One {@code .safetensors} activation shard ({@link ActivationShards#open}), read for one epoch
 * in batches of 3.
 *
 * <p>Contract: {@link FuzzSupport#expectValidOrRefused}. Seeds: {@link Seeds}. A normal build runs
 * the seeds once each (regression mode) and then fuzzes the target for a few seconds; {@code
 * -Pfuzz-long} fuzzes it for long (see the module's README).
 */
class ActivationShardFuzzTest {
  private static final Path DIR = FuzzSupport.folder("ActivationShardFuzzTest");

  @Timeout(value = 10, unit = TimeUnit.SECONDS)
  @FuzzTest
  void fuzz(byte[] input) throws Exception {
    Path file = FuzzSupport.write(DIR, "shard.safetensors", input);
    expectValidOrRefused(file, () -> {
      try (ActivationShards s = ActivationShards.open(file)) {
        Iterator<ActivationBatch> it = s.batches(3, 1);
        for (int k = 0; k < 64 && it.hasNext(); k++) {
          it.next();
        }
      }
    });
  }
}
