package io.crosscoder.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.CrosscoderException;
import io.crosscoder.backend.Availability;
import io.crosscoder.backend.ComputeBackendProvider;
import io.crosscoder.backend.ComputeBackends;
import org.junit.jupiter.api.Test;

/**
 * The provider on whatever machine runs the tests: found by the service loader, ranked above the
 * CPU, and either available (then chosen by default) or unavailable with a reason, in which case
 * the CPU is chosen and asking for cuda by name fails with that reason.
 */
class CudaBackendProviderTest {
  private final ComputeBackendProvider cuda = ComputeBackends.providers().stream()
      .filter(p -> p.name().equals("cuda")).findFirst().orElseThrow();

  @Test
  void isFoundByTheServiceLoaderAndOutranksTheCpu() {
    assertThat(cuda).isInstanceOf(CudaBackendProvider.class);
    ComputeBackendProvider cpu = ComputeBackends.providers().stream()
        .filter(p -> p.name().equals("cpu")).findFirst().orElseThrow();
    assertThat(cuda.rank()).isGreaterThan(cpu.rank());
    assertThat(ComputeBackends.providers().get(0).name()).isEqualTo("cuda");
  }

  @Test
  void availabilityDecidesTheDefaultAndExplainsItself() {
    Availability a = cuda.availability();
    assertThat(a.reason()).isNotBlank();
    assertThat(cuda.availability()).as("cached").isSameAs(a);
    assertThat(cuda.isAvailable()).as("the automatic choice's question").isEqualTo(a.available());
    if (a.available()) {
      assertThat(ComputeBackends.select(null).name()).isEqualTo("cuda");
      assertThat(a.reason()).contains("sm_").contains("cuBLAS");
    } else {
      assertThat(ComputeBackends.select(null).name()).isEqualTo("cpu");
      assertThatThrownBy(() -> ComputeBackends.select("cuda"))
          .isInstanceOf(CrosscoderException.class)
          .hasMessageContaining("'cuda' is unavailable")
          .hasMessageContaining(a.reason());
      assertThatThrownBy(cuda::create).isInstanceOf(CrosscoderException.class).hasMessageContaining(a.reason());
      assertThat(ComputeBackends.describeAvailable()).contains("cuda (unavailable: " + a.reason() + ")");
    }
  }

  @Test
  void withoutADriverTheReasonNamesTheMissingLibrary() {
    Availability a = cuda.availability();
    // On a machine without an NVIDIA driver the probe must say so, naming libcuda, not fail obscurely.
    boolean driverInstalled = java.nio.file.Files.exists(java.nio.file.Path.of("/proc/driver/nvidia/version"));
    if (!driverInstalled) {
      assertThat(a.available()).isFalse();
      assertThat(a.reason()).startsWith("no CUDA driver").contains("libcuda.so.1");
    }
  }
}
