package io.crosscoder.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.crosscoder.cuda.driver.Kernel;
import io.crosscoder.cuda.driver.KernelModule;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The Java launcher ({@link Kernel}) against the kernels as compiled: every kernel the launcher
 * calls is in the PTX with the same number of parameters and the same widths in the same order,
 * and the PTX has no kernel the launcher does not know. A mismatch here would pass wrong
 * arguments to a kernel on the GPU. Skipped where the jar was built without nvcc.
 */
class LauncherContractTest {
  @Test
  void everyLaunchMatchesAnEntryOfThePtx() {
    Optional<String> ptx = KernelModule.bundledPtx();
    assumeTrue(ptx.isPresent(), "the build had no nvcc, so the jar carries no PTX");
    Map<String, List<String>> entries = PtxSignatures.entries(ptx.get());
    assertThat(entries.keySet()).containsExactlyInAnyOrderElementsOf(
        Arrays.stream(Kernel.values()).map(Kernel::symbol).collect(Collectors.toSet()));
    for (Kernel k : Kernel.values()) {
      List<String> launched = k.params().stream().map(Kernel.Param::ptxType).toList();
      // PTX writes int as .s32 and unsigned as .u32: the launcher passes 32 bits either way.
      List<String> declared = entries.get(k.symbol()).stream().map(t -> t.equals("s32") ? "u32" : t).toList();
      assertThat(declared).as(k.symbol()).isEqualTo(launched);
    }
  }

  @Test
  void theSourceShipsBesideThePtxForNvrtc() {
    assertThat(KernelModule.class.getResource(KernelModule.SOURCE_RESOURCE)).as(KernelModule.SOURCE_RESOURCE).isNotNull();
  }
}
