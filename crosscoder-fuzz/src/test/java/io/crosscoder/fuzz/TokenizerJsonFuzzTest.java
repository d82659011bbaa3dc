package io.crosscoder.fuzz;

import static io.crosscoder.fuzz.FuzzSupport.expectValidOrRefused;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.crosscoder.io.tokenizer.HuggingFaceTokenizers;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * A {@code tokenizer.json}, through the checks {@link HuggingFaceTokenizers#check} makes before a
 * file is handed to the native tokenizers library. The native library itself is not fuzzed: a
 * crash in it would take the JVM, and the build, down.
 *
 * <p>Contract: {@link FuzzSupport#expectValidOrRefused}. Seeds: {@link Seeds}. A normal build runs
 * the seeds once each (regression mode) and then fuzzes the target for a few seconds; {@code
 * -Pfuzz-long} fuzzes it for long (see the module's README).
 */
class TokenizerJsonFuzzTest {
  private static final Path DIR = FuzzSupport.folder("TokenizerJsonFuzzTest");

  @Timeout(value = 10, unit = TimeUnit.SECONDS)
  @FuzzTest
  void fuzz(byte[] input) throws Exception {
    Path file = FuzzSupport.write(DIR, "tokenizer.json", input);
    expectValidOrRefused(file, () -> HuggingFaceTokenizers.check(file));
  }
}
