package consumer.modular;

import io.crosscoder.ModelDiffer;
import io.crosscoder.backend.ComputeBackendProvider;
import io.crosscoder.backend.ComputeBackends;
import io.crosscoder.checkpoint.CheckpointFormat;
import io.crosscoder.checkpoint.CheckpointFormats;
import io.crosscoder.io.synthetic.SyntheticPair;
import io.crosscoder.metric.WeightMetrics;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.LineageVerdict;
import io.crosscoder.report.TensorDiff;
import io.crosscoder.tensor.DType;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Runs on the module path and checks what a modular user meets: the library is three named
 * modules (not the class path's unnamed one), the CPU backend and the three checkpoint formats come
 * in by service binding (nothing names them), exactly the API packages are exported, and a weight
 * diff of a generated pair finds the planted change (relative change r within 2% where the tensor
 * has 65,536 elements or more).
 */
public final class ModulePathMain {
  public static void main(String[] args) throws Exception {
    Module core = ModelDiffer.class.getModule();
    check("io.crosscoder.core".equals(core.getName()), "ModelDiffer is in module " + core.getName());
    check("io.crosscoder.io".equals(SyntheticPair.class.getModule().getName()),
        "SyntheticPair is in module " + SyntheticPair.class.getModule().getName());
    check(ModulePathMain.class.getModule().isNamed(), "the consumer is not a named module");

    Set<String> backends = new TreeSet<>();
    for (ComputeBackendProvider p : ComputeBackends.providers()) {
      backends.add(p.name());
      if (p.name().equals("cpu")) {
        check("io.crosscoder.cpu".equals(p.getClass().getModule().getName()),
            "the cpu provider is in module " + p.getClass().getModule().getName());
      }
    }
    check(backends.contains("cpu"), "service binding found the backends " + backends);
    Set<String> formats = new TreeSet<>();
    for (CheckpointFormat f : CheckpointFormats.available()) {
      formats.add(f.name());
    }
    check(formats.containsAll(List.of("safetensors", "onnx", "gguf")), "service binding found the formats " + formats);

    // The line between API and internals, as the module system enforces it.
    for (String api : List.of("io.crosscoder", "io.crosscoder.report", "io.crosscoder.backend",
        "io.crosscoder.crosscoder", "io.crosscoder.model", "io.crosscoder.text")) {
      check(core.isExported(api), api + " is not exported");
    }
    check(!core.isExported("io.crosscoder.diff"), "the diff engine's package is exported");
    check(!core.isExported("io.crosscoder.backend.internal"), "backend internals are exported to everyone");
    Module cpu = core.getLayer().findModule("io.crosscoder.cpu").orElseThrow();
    check(!cpu.isExported("io.crosscoder.cpu.gemm"), "the CPU's GEMM package is exported");

    SyntheticPair.Pair pair = SyntheticPair.write(Path.of("target", "pair"), SyntheticPair.TINY, DType.F32, 3);
    DiffReport report;
    try (ModelDiffer differ = ModelDiffer.builder().build()) {
      report = differ.compare(pair.base(), pair.target());
    }
    check(report.lineage().kind() == LineageVerdict.Kind.DERIVED, "verdict " + report.lineage().kind());
    int planted = 0;
    for (TensorDiff t : report.tensors()) {
      long n = 1;
      for (long d : t.shape()) {
        n *= d;
      }
      double r = SyntheticPair.plantedRelativeChange(SyntheticPair.TINY, t.name());
      if (r > 0 && n >= 65536) {
        double rel = t.metric(WeightMetrics.RELATIVE_CHANGE);
        check(Math.abs(rel - r) <= 0.02 * r, t.name() + ": relative change " + rel + ", planted " + r);
        planted++;
      }
    }
    check(planted > 0, "no tensor with a planted change was checked");
    System.out.println("ModulePathMain: OK, modules " + core.getLayer().modules().stream()
        .map(Module::getName).filter(n -> n.startsWith("io.crosscoder")).sorted().toList()
        + ", backends " + backends + ", formats " + formats + ", " + planted + " planted changes checked");
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      System.err.println("ModulePathMain: FAILED: " + what);
      System.exit(1);
    }
  }
}
