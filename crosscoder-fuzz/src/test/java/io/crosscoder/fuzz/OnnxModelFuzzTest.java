package io.crosscoder.fuzz;

import static io.crosscoder.fuzz.FuzzSupport.expectValidOrRefused;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.io.onnx.OnnxFormat;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * An ONNX model ({@code .onnx} protobuf), opened through {@link OnnxFormat} (initializers as
 * tensors) and every tensor sampled. Only our Java reader sees the bytes; ONNX Runtime never does.
 *
 * <p>Contract: {@link FuzzSupport#expectValidOrRefused}. Seeds: {@link Seeds}. A normal build runs
 * the seeds once each (regression mode) and then fuzzes the target for a few seconds; {@code
 * -Pfuzz-long} fuzzes it for long (see the module's README).
 */
class OnnxModelFuzzTest {
  private static final Path DIR = FuzzSupport.folder("OnnxModelFuzzTest");

  @Timeout(value = 10, unit = TimeUnit.SECONDS)
  @FuzzTest
  void fuzz(byte[] input) throws Exception {
    Path file = FuzzSupport.write(DIR, "model.onnx", input);
    expectValidOrRefused(file, () -> {
      try (Checkpoint c = new OnnxFormat().open(file)) {
        FuzzSupport.touchAll(c);
      }
    });
  }
}
