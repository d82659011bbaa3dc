package io.crosscoder.fuzz;

import static io.crosscoder.fuzz.FuzzSupport.expectValidOrRefused;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.io.safetensors.SafetensorsFormat;
import java.util.Arrays;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * The safetensors JSON header: the input is two bytes of data-section length (little-endian,
 * modulo 4097) then the header text, which this target frames as a file.
 *
 * <p>Contract: {@link FuzzSupport#expectValidOrRefused}. Seeds: {@link Seeds}. A normal build runs
 * the seeds once each (regression mode) and then fuzzes the target for a few seconds; {@code
 * -Pfuzz-long} fuzzes it for long (see the module's README).
 */
class SafetensorsHeaderFuzzTest {
  private static final Path DIR = FuzzSupport.folder("SafetensorsHeaderFuzzTest");

  @Timeout(value = 10, unit = TimeUnit.SECONDS)
  @FuzzTest
  void fuzz(byte[] input) throws Exception {
    if (input.length < 2) {
      return;
    }
    int dataBytes = ((input[0] & 0xff) | (input[1] & 0xff) << 8) % 4097;
    byte[] json = Arrays.copyOfRange(input, 2, input.length);
    byte[] data = new byte[dataBytes];
    Arrays.fill(data, (byte) 0x3f); // every float read from it is finite
    Path file = FuzzSupport.write(DIR, "model.safetensors", new Bytes().u64(json.length).raw(json).raw(data).toArray());
    expectValidOrRefused(file, () -> {
      try (Checkpoint c = new SafetensorsFormat().open(file)) {
        FuzzSupport.touchAll(c);
      }
    });
  }
}
