package io.crosscoder.crosscoder.analysis;

import io.crosscoder.crosscoder.Crosscoder;
import io.crosscoder.crosscoder.CrosscoderConfig;
import io.crosscoder.crosscoder.train.JsonLinesMetricsWriter;
import io.crosscoder.crosscoder.train.TrainingMetrics;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Crosscoders and analyses made up for the report tests, with their decoders kept for oracles. */
public final class SampleCrosscoders {
  private SampleCrosscoders() {}

  /**
   * A crosscoder of {@code f} latents in {@code d} dimensions whose relative decoder norms spread
   * over [0, 1] with most latents shared, as in a real fine-tune; latent-major decoder {@code [d^A, d^B]}.
   */
  public static Crosscoder random(int d, int f, long seed) {
    Random rnd = new Random(seed);
    float[] wDec = new float[2 * d * f];
    for (int i = 0; i < f; i++) {
      double u = rnd.nextDouble();
      // 10% near 0, 10% near 1, 60% near 0.5, the rest uniform.
      double r = u < 0.1 ? 0.1 * rnd.nextDouble() : u < 0.2 ? 1 - 0.1 * rnd.nextDouble()
          : u < 0.8 ? 0.5 + 0.08 * rnd.nextGaussian() : rnd.nextDouble();
      r = Math.min(1, Math.max(0, r));
      double scale = 0.5 + rnd.nextDouble();
      for (int m = 0; m < 2; m++) {
        double norm = scale * (m == 0 ? 1 - r : r);
        double[] v = new double[d];
        double n2 = 0;
        for (int j = 0; j < d; j++) {
          v[j] = rnd.nextGaussian();
          n2 += v[j] * v[j];
        }
        for (int j = 0; j < d; j++) {
          wDec[i * 2 * d + m * d + j] = (float) (norm * v[j] / Math.sqrt(n2));
        }
      }
    }
    return Crosscoder.of(CrosscoderConfig.l1(d, f, 0), new float[2 * d * f], wDec, new float[f], new float[2 * d]);
  }

  /**
   * An analysis of {@code coder} with an evaluation (firing counts, latent scaling of the
   * target-only latents), readable latents for the first {@code cardsPerClass} latents of each
   * class with {@code contextText} in their contexts.
   */
  public static CrosscoderReport analysis(Crosscoder coder, int cardsPerClass, String contextText) {
    CrosscoderReport plain = CrosscoderReport.of("sample.safetensors", coder, ClassThresholds.defaults(), null);
    Random rnd = new Random(5);
    int f = coder.dictionarySize();
    long[] firing = new long[f];
    for (int i = 0; i < f; i++) {
      firing[i] = rnd.nextInt(10) == 0 ? 0 : rnd.nextInt(500);
    }
    List<LatentScale> scales = new ArrayList<>();
    for (int i : plain.latentsOf(LatentClass.TARGET_ONLY)) {
      scales.add(new LatentScale(i, firing[i], rnd.nextGaussian(), 1 + rnd.nextDouble(), 0.3 * rnd.nextGaussian(),
          1 + rnd.nextDouble()));
    }
    CrosscoderEvaluation e = new CrosscoderEvaluation(1000, 0.91, 0.88, 31.5, firing, scales);
    CrosscoderReport r = CrosscoderReport.of("sample.safetensors", coder, ClassThresholds.defaults(), e);
    List<LatentCard> cards = new ArrayList<>();
    for (LatentClass k : LatentClass.values()) {
      int[] of = r.latentsOf(k);
      for (int j = 0; j < Math.min(cardsPerClass, of.length); j++) {
        int i = of[j];
        cards.add(new LatentCard(i, k, r.relativeNorm(i), r.decoderCosine(i), firing[i], 1000, 12.5,
            List.of(new LatentCard.TokenShare(" the", 4)), List.of(
                new LatentCard.Context(3.25f, 1, "Before " + contextText + " and", " the", " after"),
                new LatentCard.Context(1.5f, 2, "Another", " one", "."))));
      }
    }
    return r.withCards(cards);
  }

  /** Writes {@code steps} made-up training steps as the trainer's metrics file. */
  public static void writeMetrics(Path file, int steps) throws IOException {
    try (JsonLinesMetricsWriter w = JsonLinesMetricsWriter.open(file, false)) {
      for (int s = 1; s <= steps; s++) {
        double decay = Math.exp(-s / (double) steps * 4);
        w.onProgress(new TrainingMetrics(s, steps, 1024L * s, 2 * decay + 0.1, 0.3 * decay + 0.01,
            s < steps / 2 ? 0.05 : 0, 2.3 * decay + 0.11, 200 * decay + 30, 1 - decay * 0.9, 1 - decay * 0.85,
            Math.max(0, 0.2 - s / (double) steps), 1e-3, 0, 1.0, Double.NaN));
      }
    }
  }
}
