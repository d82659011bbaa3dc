package io.crosscoder.fuzz;

import static io.crosscoder.fuzz.FuzzSupport.expectValidOrRefused;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.crosscoder.io.activations.NpyArray;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * A NumPy {@code .npy} file, opened through {@link NpyArray} and its view sampled.
 *
 * <p>Contract: {@link FuzzSupport#expectValidOrRefused}. Seeds: {@link Seeds}. A normal build runs
 * the seeds once each (regression mode) and then fuzzes the target for a few seconds; {@code
 * -Pfuzz-long} fuzzes it for long (see the module's README).
 */
class NpyFuzzTest {
  private static final Path DIR = FuzzSupport.folder("NpyFuzzTest");

  @Timeout(value = 10, unit = TimeUnit.SECONDS)
  @FuzzTest
  void fuzz(byte[] input) throws Exception {
    Path file = FuzzSupport.write(DIR, "a.npy", input);
    expectValidOrRefused(file, () -> {
      try (NpyArray a = NpyArray.open(file)) {
        FuzzSupport.touch(a.view());
      }
    });
  }
}
