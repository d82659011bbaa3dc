package io.crosscoder.fuzz;

import static io.crosscoder.fuzz.FuzzSupport.expectValidOrRefused;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.crosscoder.io.activations.ActivationStore;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * An activation store's {@code manifest.json} beside one valid shard ({@link Seeds#storeShard()}),
 * opened through {@link ActivationStore#open} and read back: rows, sequences, documents, settings.
 *
 * <p>Contract: {@link FuzzSupport#expectValidOrRefused}. Seeds: {@link Seeds}. A normal build runs
 * the seeds once each (regression mode) and then fuzzes the target for a few seconds; {@code
 * -Pfuzz-long} fuzzes it for long (see the module's README).
 */
class ActivationManifestFuzzTest {
  private static final Path DIR = FuzzSupport.folder("ActivationManifestFuzzTest");

  @Timeout(value = 10, unit = TimeUnit.SECONDS)
  @FuzzTest
  void fuzz(byte[] input) throws Exception {
    FuzzSupport.write(DIR, "shard-00000.safetensors", Seeds.storeShard());
    FuzzSupport.write(DIR, ActivationStore.MANIFEST, input);
    expectValidOrRefused(DIR, () -> {
      try (ActivationStore s = ActivationStore.open(DIR)) {
        s.forEach(2, 64, rows -> { });
        for (long q = 0; q < Math.min(s.sequences(), 8); q++) {
          s.sequence(q);
          s.document(q);
        }
        s.site();
        s.baseModel();
        s.targetModel();
        s.text();
        s.rowRule();
      }
    });
  }
}
