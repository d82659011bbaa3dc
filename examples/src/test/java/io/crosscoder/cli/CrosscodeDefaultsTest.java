package io.crosscoder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CrosscodeDefaultsTest {
  @Test
  void dictionaryIsEightDWideButAtMostOneLatentPer32TrainingTokens() {
    // 8 * 384 = 3072 -> 4096 when the text is plentiful.
    assertThat(Crosscode.defaultDictionarySize(384, 10_000_000)).isEqualTo(4096);
    // 60,000 tokens / 32 = 1875 -> 1024.
    assertThat(Crosscode.defaultDictionarySize(384, 60_000)).isEqualTo(1024);
    // Exactly 32 tokens per latent stays.
    assertThat(Crosscode.defaultDictionarySize(384, 2048L * 32)).isEqualTo(2048);
    // Never below 256, never above the width rule (8 * 64 = 512).
    assertThat(Crosscode.defaultDictionarySize(384, 1000)).isEqualTo(256);
    assertThat(Crosscode.defaultDictionarySize(64, 1_000_000)).isEqualTo(512);
    assertThat(Crosscode.defaultDictionarySize(64, 0)).isEqualTo(256);
  }

  @Test
  void stepsAreFivePassesWithinBounds() {
    assertThat(Crosscode.defaultSteps(60_000, 1024)).isEqualTo(500);   // ceil(3e5 / 1024) = 293 -> the floor of 500
    assertThat(Crosscode.defaultSteps(1_000_000, 1024)).isEqualTo(4883); // ceil(5e6 / 1024)
    assertThat(Crosscode.defaultSteps(100_000_000, 1024)).isEqualTo(20_000);
  }
}
