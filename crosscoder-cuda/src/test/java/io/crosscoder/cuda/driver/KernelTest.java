package io.crosscoder.cuda.driver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The launcher's side of the kernel contract: argument checks, without a GPU. */
class KernelTest {
  @Test
  void argumentsAreCheckedAgainstTheSignature() {
    Kernel.FILL.checkArguments(0L, 10L, 1.5f);
    assertThatThrownBy(() -> Kernel.FILL.checkArguments(0L, 10, 1.5f))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("cc_fill_f32 parameter 1 is U64, got Integer");
    assertThatThrownBy(() -> Kernel.FILL.checkArguments(0L, 10L))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("cc_fill_f32 takes 3 arguments, got 2");
    assertThatThrownBy(() -> Kernel.ADAM.checkArguments(0L, 0L, 0L, 0L, 1L, 0.9f, 0.999f, 1f, 1f, 1.0))
        .hasMessageContaining("parameter 9 is F32, got Double");
    assertThatThrownBy(() -> Kernel.BIAS_ADD.checkArguments(0L, 0L, null, 1, 1, 0))
        .hasMessageContaining("parameter 2 is PTR, got null");
  }

  @Test
  void symbolsAreDistinctAndPrefixed() {
    Set<String> symbols = Arrays.stream(Kernel.values()).map(Kernel::symbol).collect(Collectors.toSet());
    assertThat(symbols).hasSize(Kernel.values().length).allMatch(s -> s.startsWith("cc_"));
  }
}
