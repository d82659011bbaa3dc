package consumer;

import io.crosscoder.ModelDiffer;
import io.crosscoder.io.synthetic.SyntheticPair;
import io.crosscoder.metric.WeightMetric;
import io.crosscoder.metric.WeightMetrics;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.LineageVerdict;
import io.crosscoder.report.ReportFormat;
import io.crosscoder.report.TensorDiff;
import io.crosscoder.tensor.DType;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The README's "From Java" snippet, verbatim between the markers (ConsumerReadmeTest compares
 * them), run on a generated pair whose planted change is known: a tensor whose target adds noise of
 * r times the base's spread has relative change r (within 2% at 65,536 elements or more).
 */
public final class FromJava {
  public static void main(String[] args) throws Exception {
    SyntheticPair.Pair pair = SyntheticPair.write(Path.of("target", "pair"), SyntheticPair.TINY, DType.F32, 3);
    Path base = pair.base();
    Path target = pair.target();

    // README begins
    DiffReport report;
    try (ModelDiffer differ = ModelDiffer.builder()
        .parameters("model\\.layers\\.")                      // optional filter
        .metric(WeightMetric.of("rms_change", "RMS element change",
            s -> Math.sqrt(s.diffSquares() / s.count())))    // custom metric, no extra pass
        .build()) {                                          // holds its backend until closed
      report = differ.compare(base, target);
    }
    System.out.println(report.toMarkdown());
    report.write(Path.of("diff.json"), ReportFormat.JSON);
    System.out.println("relative change " + report.overall().metric(WeightMetrics.RELATIVE_CHANGE));
    report.layerMapping().ifPresent(m -> System.out.println(m.describe()));  // models of other depth
    // README ends

    // Same depths: no layer mapping; the typed key reads the same value as its name.
    check(report.layerMapping().isEmpty(), "a layer mapping for models of equal depth");
    check(report.overall().metric(WeightMetrics.RELATIVE_CHANGE) == report.overall().metric("relative_change"),
        "typed and named keys disagree");

    check(report.lineage().kind() == LineageVerdict.Kind.DERIVED, "verdict " + report.lineage().kind());
    check(!report.tensors().isEmpty(), "no tensors compared");
    int planted = 0;
    for (TensorDiff t : report.tensors()) {
      check(t.name().startsWith("model.layers."), "the filter let " + t.name() + " through");
      long n = 1;
      for (long d : t.shape()) {
        n *= d;
      }
      // The custom metric against the built-in diff norm: rms^2 n = |B - A|^2.
      double rms = t.metric("rms_change");
      double diffNorm = t.metric("diff_norm");
      check(Math.abs(rms * Math.sqrt(n) - diffNorm) <= 1e-9 * Math.max(1, diffNorm),
          t.name() + ": rms_change " + rms + " against diff_norm " + diffNorm);
      double r = SyntheticPair.plantedRelativeChange(SyntheticPair.TINY, t.name());
      if (r > 0 && n >= 65536) {
        double rel = t.metric("relative_change");
        check(Math.abs(rel - r) <= 0.02 * r, t.name() + ": relative change " + rel + ", planted " + r);
        planted++;
      }
    }
    check(planted > 0, "no tensor with a planted change was checked");
    String json = Files.readString(Path.of("diff.json"));
    check(json.contains("\"rms_change\"") && json.contains("crosscoder.weight-diff/1"), "diff.json lacks the metric");
    System.out.println("FromJava: OK, " + report.tensors().size() + " tensors, " + planted + " planted changes checked");
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      System.err.println("FromJava: FAILED: " + what);
      System.exit(1);
    }
  }
}
