package io.crosscoder.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import io.crosscoder.backend.Availability;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackendProvider;
import io.crosscoder.backend.ComputeBackends;
import io.crosscoder.backend.TestTensors;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.tensor.DType;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

/** Discovery, naming and path selection of the CPU provider. */
class CpuBackendProviderTest {
  @Test
  void isFoundByServiceLoaderAndSelectedByName() {
    assertThat(ComputeBackends.providers()).anyMatch(p -> p instanceof CpuBackendProvider);
    ComputeBackendProvider p = ComputeBackends.select("cpu");
    assertThat(p.name()).isEqualTo("cpu");
    assertThat(p.rank()).isEqualTo(10);
    assertThat(p.availability().available()).isTrue();
  }

  @Test
  void buildersAcceptTheNameInAnyCaseAndRunOnIt() {
    try (var base = new io.crosscoder.testing.InMemoryCheckpoint("base");
        var target = new io.crosscoder.testing.InMemoryCheckpoint("target")) {
      base.add("model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {2, 2}, new float[] {1, 2, 3, 4});
      target.add("model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {2, 2}, new float[] {1, 2, 3, 6});
      var report = io.crosscoder.ModelDiffer.builder().backend(" CPU ").build().compare(base, target);
      assertThat(report.backend()).startsWith("cpu: ");
      // cosine of (1, 2, 3, 4) and (1, 2, 3, 6): 38 / sqrt(30 * 50).
      assertThat(report.tensors().get(0).metric("cosine")).isCloseTo(38 / Math.sqrt(1500),
          org.assertj.core.api.Assertions.within(1e-9));
    }
    assertThat(io.crosscoder.crosscoder.CrosscoderTraining.builder().dictionarySize(4).backend("Cpu").build())
        .isNotNull();
  }

  @Test
  void reasonNamesTheVectorPathWhenTheModuleIsPresent() {
    // This build runs its tests with --add-modules jdk.incubator.vector.
    Availability a = new CpuBackendProvider().availability();
    assertThat(ModuleLayer.boot().findModule("jdk.incubator.vector")).isPresent();
    assertThat(a.reason()).matches("Vector API, \\d+-bit lanes");
    try (ComputeBackend b = new CpuBackendProvider().create()) {
      assertThat(b.name()).isEqualTo("cpu");
      assertThat(b.description()).isEqualTo("cpu: " + a.reason());
    }
  }

  @Test
  void systemPropertyForcesTheScalarPath() {
    String old = System.getProperty(Vectorization.PROPERTY);
    System.setProperty(Vectorization.PROPERTY, "false");
    try (Arena arena = Arena.ofConfined()) {
      CpuBackendProvider provider = new CpuBackendProvider();
      assertThat(provider.availability().reason()).isEqualTo("scalar: forced by -Dcrosscoder.cpu.vector=false");
      try (ComputeBackend b = provider.create()) {
        assertThat(b.description()).startsWith("cpu: scalar (forced");
        PairStatistics s = b.pairStatistics(
            TestTensors.plain(arena, "w", DType.F32, new long[] {2, 2}, new float[] {1, 2, 3, 4}),
            TestTensors.plain(arena, "w", DType.BF16, new long[] {2, 2}, new float[] {1, 2, 3, 5}), 0, 2, null);
        assertThat(s.dot()).isEqualTo(1 + 4 + 9 + 20);
        assertThat(s.changed()).isEqualTo(1);
      }
    } finally {
      if (old == null) {
        System.clearProperty(Vectorization.PROPERTY);
      } else {
        System.setProperty(Vectorization.PROPERTY, old);
      }
    }
  }
}
