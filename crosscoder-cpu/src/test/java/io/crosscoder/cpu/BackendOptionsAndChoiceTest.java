package io.crosscoder.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.CrosscoderException;
import io.crosscoder.ModelDiffer;
import io.crosscoder.backend.BackendChoice;
import io.crosscoder.backend.BackendOptions;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackends;
import io.crosscoder.backend.TestTensors;
import io.crosscoder.cpu.blas.OpenBlas;
import io.crosscoder.cpu.kernels.CpuKernels;
import io.crosscoder.cpu.kernels.VectorSupport;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.report.DiffReport;
import io.crosscoder.spectral.SpectralOptions;
import io.crosscoder.tensor.DType;
import io.crosscoder.testing.InMemoryCheckpoint;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Backend options reach the CPU backend through its provider (threads, GEMM, Vector API), over
 * the system properties; one Vector API probe answers for every CPU code path; a {@link
 * BackendChoice} is checked when made; a {@link ModelDiffer} opens its backend once and closes it.
 */
class BackendOptionsAndChoiceTest {
  @Test
  void optionsReachTheBackendAndItsKernels() {
    BackendOptions scalarJava = BackendOptions.builder().threads(3).gemm(BackendOptions.Gemm.JAVA).vectorApi(false)
        .build();
    try (Arena arena = Arena.ofConfined(); ComputeBackend b = ComputeBackends.open("cpu", scalarJava)) {
      assertThat(b.description()).isEqualTo("cpu: scalar (forced by BackendOptions.vectorApi(false))");
      CpuKernels k = (CpuKernels) b.kernels();
      assertThat(k.threads()).isEqualTo(3);
      assertThat(k.usesVector()).isFalse();
      assertThat(k.usesOpenBlas()).isFalse();
      assertThat(k.description()).startsWith("cpu: plain Java, 3 threads, sgemm ");
      // The scalar path computes: (1, 2, 3, 4) . (1, 2, 3, 5) = 34.
      PairStatistics s = b.pairStatistics(
          TestTensors.plain(arena, "w", DType.F32, new long[] {2, 2}, new float[] {1, 2, 3, 4}),
          TestTensors.plain(arena, "w", DType.F32, new long[] {2, 2}, new float[] {1, 2, 3, 5}), 0, 2, null);
      assertThat(s.dot()).isEqualTo(34);
    }
    try (ComputeBackend b = ComputeBackends.open("cpu", BackendOptions.builder().threads(2).build())) {
      CpuKernels k = (CpuKernels) b.kernels();
      assertThat(k.threads()).isEqualTo(2);
      assertThat(k.usesVector()).isEqualTo(VectorSupport.get().usable());
      // AUTO: OpenBLAS exactly when it loads on this machine.
      assertThat(k.usesOpenBlas()).isEqualTo(OpenBlas.load().blas().isPresent());
    }
    BackendOptions blas = BackendOptions.builder().threads(1).gemm(BackendOptions.Gemm.OPENBLAS).build();
    if (OpenBlas.load().blas().isPresent()) {
      try (ComputeBackend b = ComputeBackends.open("cpu", blas)) {
        assertThat(((CpuKernels) b.kernels()).usesOpenBlas()).isTrue();
      }
    } else {
      try (ComputeBackend b = ComputeBackends.open("cpu", blas)) {
        assertThatThrownBy(b::kernels).isInstanceOf(CrosscoderException.class);
      }
    }
  }

  @Test
  void anOptionSetWinsOverItsSystemPropertyAndAnUnsetOneFollowsIt() {
    String old = System.getProperty(BackendOptions.VECTOR_PROPERTY);
    String oldBlas = System.getProperty(BackendOptions.OPENBLAS_PROPERTY);
    System.setProperty(BackendOptions.VECTOR_PROPERTY, "false");
    System.setProperty(BackendOptions.OPENBLAS_PROPERTY, "false");
    try {
      assertThat(BackendOptions.DEFAULTS.vectorApiOrDefault()).isFalse();
      assertThat(BackendOptions.DEFAULTS.gemmOrDefault()).isEqualTo(BackendOptions.Gemm.JAVA);
      try (ComputeBackend b = ComputeBackends.open("cpu", BackendOptions.DEFAULTS)) {
        assertThat(b.description()).isEqualTo("cpu: scalar (forced by -Dcrosscoder.cpu.vector=false)");
        assertThat(((CpuKernels) b.kernels()).usesOpenBlas()).isFalse();
      }
      BackendOptions on = BackendOptions.builder().vectorApi(true).threads(1).build();
      try (ComputeBackend b = ComputeBackends.open("cpu", on)) {
        assertThat(b.description()).isEqualTo("cpu: " + Vectorization.probe().vector().map(PairKernel::description)
            .orElse("scalar (" + Vectorization.probe().whyNot() + ")"));
        assertThat(((CpuKernels) b.kernels()).usesVector()).isEqualTo(VectorSupport.get().usable());
      }
    } finally {
      restore(BackendOptions.VECTOR_PROPERTY, old);
      restore(BackendOptions.OPENBLAS_PROPERTY, oldBlas);
    }
    assertThat(BackendOptions.builder().tf32(true).build().tf32OrDefault()).isTrue();
    assertThat(BackendOptions.DEFAULTS.tf32OrDefault()).isEqualTo(Boolean.getBoolean(BackendOptions.TF32_PROPERTY));
    assertThat(BackendOptions.builder().threads(4).gemm(BackendOptions.Gemm.JAVA).build())
        .isEqualTo(BackendOptions.builder().gemm(BackendOptions.Gemm.JAVA).threads(4).build())
        .hasToString("BackendOptions[threads=4, gemm=JAVA]");
    assertThatThrownBy(() -> BackendOptions.builder().threads(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("threads must be at least 1, got 0");
  }

  @Test
  void oneProbeAnswersForThePairPassAndTheTrainingKernels() {
    VectorSupport.Probe probe = VectorSupport.get();
    Vectorization.Probe pair = Vectorization.probe();
    // This build runs its tests with --add-modules jdk.incubator.vector on C2.
    assertThat(probe.usable()).as(probe.reason()).isTrue();
    assertThat(pair.vector().isPresent()).isEqualTo(probe.usable());
    // The same width: the pair kernel keeps two vectors of f32 lanes, the kernels report bits.
    assertThat(pair.lanes()).isEqualTo(2 * probe.bits() / Float.SIZE);
    assertThat(pair.vector().orElseThrow().description()).isEqualTo("Vector API, " + probe.bits() + "-bit lanes");
    try (ComputeBackend b = new CpuBackendProvider().create(BackendOptions.builder().threads(1).build())) {
      assertThat(b.description()).isEqualTo("cpu: Vector API, " + probe.bits() + "-bit lanes");
      assertThat(b.kernels().description()).startsWith("cpu: Vector API " + probe.bits() + "-bit, 1 threads");
    }
  }

  @Test
  void aChoiceIsCheckedWhenMadeAndKeepsItsOptions() {
    assertThatThrownBy(() -> BackendChoice.named("tpu")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("no compute backend named 'tpu'. " + ComputeBackends.describeAvailable())
        .hasMessageContaining("cpu (available");
    BackendOptions two = BackendOptions.builder().threads(2).build();
    BackendChoice cpu = BackendChoice.named(" CPU ").withOptions(two);
    assertThat(cpu.name()).hasValue("cpu");
    assertThat(cpu.options()).hasValue(two);
    assertThat(cpu.ownsOpened()).isTrue();
    assertThat(cpu).isEqualTo(BackendChoice.named("cpu").withOptions(two)).isNotEqualTo(BackendChoice.named("cpu"));
    assertThat(BackendChoice.auto().isAuto()).isTrue();
    try (ComputeBackend opened = cpu.open()) {
      assertThat(((CpuKernels) opened.kernels()).threads()).isEqualTo(2);
      BackendChoice given = BackendChoice.of(opened);
      assertThat(given.ownsOpened()).isFalse();
      assertThat(given.open()).isSameAs(opened);
      assertThatThrownBy(() -> given.withOptions(two)).isInstanceOf(IllegalStateException.class);
    }
  }

  @Test
  void aDifferOpensItsBackendOnceAndClosesIt() {
    try (InMemoryCheckpoint base = new InMemoryCheckpoint("base"); InMemoryCheckpoint target =
        new InMemoryCheckpoint("target")) {
      Random rnd = new Random(3);
      float[] a = new float[48 * 32];
      float[] c = new float[a.length];
      for (int i = 0; i < a.length; i++) {
        a[i] = (float) rnd.nextGaussian();
        c[i] = a[i] + (float) (0.1 * rnd.nextGaussian());
      }
      base.add("model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {48, 32}, a);
      target.add("model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {48, 32}, c);
      int opened = CountingCpuProvider.OPENED.get();
      int closed = CountingCpuProvider.CLOSED.get();
      BackendOptions two = BackendOptions.builder().threads(2).build();
      ModelDiffer differ = ModelDiffer.builder().backend(BackendChoice.named("counting-cpu").withOptions(two))
          .spectral(SpectralOptions.DEFAULTS).threads(1).build();
      // Nothing is opened before the first comparison.
      assertThat(CountingCpuProvider.OPENED.get()).isEqualTo(opened);
      DiffReport first = differ.compare(base, target);
      DiffReport second = differ.compare(base, target);
      // One backend for both comparisons (one per comparison before), with the options given.
      assertThat(CountingCpuProvider.OPENED.get()).isEqualTo(opened + 1);
      assertThat(CountingCpuProvider.CLOSED.get()).isEqualTo(closed);
      assertThat(CountingCpuProvider.lastOptions).isEqualTo(two);
      assertThat(second).isEqualTo(first);
      assertThat(first.tensors().get(0).metric("sigma_max")).isPositive();
      assertThat(first.overall().metric("cosine")).isCloseTo(cosine(a, c), within(1e-7));
      differ.close();
      differ.close();
      assertThat(CountingCpuProvider.CLOSED.get()).isEqualTo(closed + 1);
      assertThatThrownBy(() -> differ.compare(base, target)).isInstanceOf(IllegalStateException.class)
          .hasMessage("this ModelDiffer is closed");
      // A backend given as an instance stays its owner's: the differ neither opens nor closes one.
      try (ComputeBackend own = new CountingCpuProvider().create(BackendOptions.DEFAULTS)) {
        try (ModelDiffer borrowing = ModelDiffer.builder().backend(own).build()) {
          borrowing.compare(base, target);
          borrowing.compare(base, target);
        }
        assertThat(CountingCpuProvider.OPENED.get()).isEqualTo(opened + 2);
        assertThat(CountingCpuProvider.CLOSED.get()).isEqualTo(closed + 1);
      }
      assertThat(CountingCpuProvider.CLOSED.get()).isEqualTo(closed + 2);
    }
  }

  private static double cosine(float[] a, float[] b) {
    double ab = 0;
    double aa = 0;
    double bb = 0;
    for (int i = 0; i < a.length; i++) {
      ab += (double) a[i] * b[i];
      aa += (double) a[i] * a[i];
      bb += (double) b[i] * b[i];
    }
    return ab / Math.sqrt(aa * bb);
  }

  private static void restore(String key, String value) {
    if (value == null) {
      System.clearProperty(key);
    } else {
      System.setProperty(key, value);
    }
  }
}
