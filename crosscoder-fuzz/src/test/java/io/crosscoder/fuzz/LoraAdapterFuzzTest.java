package io.crosscoder.fuzz;

import static io.crosscoder.fuzz.FuzzSupport.expectValidOrRefused;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.crosscoder.io.lora.LoraAdapter;
import io.crosscoder.io.lora.LoraModule;
import java.util.Arrays;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * A PEFT LoRA adapter folder ({@link LoraAdapter#open}): the first input byte chooses the fuzzed
 * file (even: {@code adapter_config.json}, odd: {@code adapter_model.safetensors}), the other is
 * the valid seed; modules, ranks and scales are read back.
 *
 * <p>Contract: {@link FuzzSupport#expectValidOrRefused}. Seeds: {@link Seeds}. A normal build runs
 * the seeds once each (regression mode) and then fuzzes the target for a few seconds; {@code
 * -Pfuzz-long} fuzzes it for long (see the module's README).
 */
class LoraAdapterFuzzTest {
  private static final Path DIR = FuzzSupport.folder("LoraAdapterFuzzTest");

  @Timeout(value = 10, unit = TimeUnit.SECONDS)
  @FuzzTest
  void fuzz(byte[] input) throws Exception {
    if (input.length < 1) {
      return;
    }
    byte[] file = Arrays.copyOfRange(input, 1, input.length);
    boolean config = (input[0] & 1) == 0;
    FuzzSupport.write(DIR, "adapter_config.json", config ? file : Seeds.ascii(Seeds.LORA_CONFIG));
    FuzzSupport.write(DIR, LoraAdapter.WEIGHTS, config ? Seeds.loraWeights() : file);
    expectValidOrRefused(DIR, () -> {
      try (LoraAdapter a = LoraAdapter.open(DIR)) {
        for (LoraModule m : a.modules()) {
          a.config().scaleOf(m.module());
        }
        a.config().scaleOf("model.layers.0.self_attn.q_proj");
        a.config().scaleOf("model.layers.10.mlp.down_proj");
        a.replacements().size();
      }
    });
  }
}
