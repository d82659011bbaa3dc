package io.crosscoder.examples;

import io.crosscoder.ModelDiffer;
import io.crosscoder.io.synthetic.SyntheticPair;
import io.crosscoder.metric.WeightMetric;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.GroupDiff;
import io.crosscoder.tensor.DType;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Adds a custom weight metric to a diff. A metric is a function of the fused pass's sums ({@link
 * io.crosscoder.metric.PairStatistics}), so it costs no extra pass over the weights, and it is
 * computed for every tensor and, pooled, for every layer, kind and band.
 *
 * <p>Run it from your IDE, or from the repository root after {@code ./crosscoder} has built the
 * project once: {@code java $(bin/jvm-flags) -cp 'examples/target/classes:examples/target/lib/*'
 * io.crosscoder.examples.CustomMetricExample [BASE TARGET]} (without arguments it generates a small
 * synthetic pair).
 */
public final class CustomMetricExample {
  public static void main(String[] args) throws Exception {
    Path base;
    Path target;
    if (args.length == 2) {
      base = Path.of(args[0]);
      target = Path.of(args[1]);
    } else {
      SyntheticPair.Pair pair = SyntheticPair.write(Files.createTempDirectory("crosscoder-example"),
          SyntheticPair.TINY, DType.BF16, 7);
      base = pair.base();
      target = pair.target();
    }

    // Root-mean-square change per element: |B - A| / sqrt(n).
    WeightMetric rms = WeightMetric.of("rms_change", "root mean square element change |B - A| / sqrt(n)",
        s -> s.count() == 0 ? Double.NaN : Math.sqrt(s.diffSquares() / s.count()));
    // Signal-to-noise of the update: how large the change is against the base's own spread.
    WeightMetric snr = WeightMetric.of("update_to_weight_ratio", "|B - A|^2 / |A|^2",
        s -> s.baseSquares() == 0 ? Double.NaN : s.diffSquares() / s.baseSquares());

    DiffReport report;
    try (ModelDiffer differ = ModelDiffer.builder().metric(rms).metric(snr).build()) {
      report = differ.compare(base, target);
    }

    System.out.println("layer  rms_change  update_to_weight_ratio");
    for (GroupDiff layer : report.byLayer()) {
      System.out.printf("%5d  %10.3e  %10.3e%n", layer.layer().getAsInt(), layer.metric("rms_change"),
          layer.metric("update_to_weight_ratio"));
    }
  }
}
