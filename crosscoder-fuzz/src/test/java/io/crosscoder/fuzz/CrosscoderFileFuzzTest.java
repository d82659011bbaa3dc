package io.crosscoder.fuzz;

import static io.crosscoder.fuzz.FuzzSupport.expectValidOrRefused;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.crosscoder.io.crosscoder.CrosscoderFiles;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * A crosscoder file in any of the three layouts ({@link CrosscoderFiles#load}), which detects
 * the layout, checks shapes and metadata and copies the weights.
 *
 * <p>Contract: {@link FuzzSupport#expectValidOrRefused}. Seeds: {@link Seeds}. A normal build runs
 * the seeds once each (regression mode) and then fuzzes the target for a few seconds; {@code
 * -Pfuzz-long} fuzzes it for long (see the module's README).
 */
class CrosscoderFileFuzzTest {
  private static final Path DIR = FuzzSupport.folder("CrosscoderFileFuzzTest");

  @Timeout(value = 10, unit = TimeUnit.SECONDS)
  @FuzzTest
  void fuzz(byte[] input) throws Exception {
    Path file = FuzzSupport.write(DIR, "crosscoder.safetensors", input);
    expectValidOrRefused(file, () -> CrosscoderFiles.load(file).config().toString());
  }
}
