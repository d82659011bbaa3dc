package io.crosscoder.bench;

import io.crosscoder.crosscoder.ActivationSource;
import io.crosscoder.crosscoder.Crosscoder;
import io.crosscoder.crosscoder.CrosscoderTraining;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.crosscoder.TrainingResult;
import io.crosscoder.crosscoder.analysis.ClassThresholds;
import io.crosscoder.crosscoder.analysis.CrosscoderEvaluation;
import io.crosscoder.crosscoder.analysis.CrosscoderEvaluator;
import io.crosscoder.crosscoder.train.TrainingConfig;
import io.crosscoder.crosscoder.train.TrainingMetrics;
import io.crosscoder.io.activations.PlantedDictionary;
import io.crosscoder.progress.ProgressListener;
import java.util.Locale;

/**
 * The crosscoder benchmark with known answers, at a realistic width: activations drawn from a
 * planted dictionary (shared, base-only and target-only features, sparse codes, noise), a
 * crosscoder trained on them through the front door ({@link CrosscoderTraining}: normalisation,
 * default learning rate and warm-up unless given), and the share of planted features it recovers
 * (a latent whose joint decoder [d^A, d^B], in raw units, has cosine at least 0.9 with the
 * feature's joint direction) and classifies right (relative decoder norm in the feature's class by
 * the default thresholds). Every epoch is fresh tokens; explained variance is measured on fresh
 * held-out tokens (20,000 unless {@code --held-out N}).
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -cp benchmarks/target/benchmarks.jar io.crosscoder.bench.PlantedRecovery \
 *     [--d 256] [--shared 256] [--exclusive 32] [--dict 2048] [--k 8] [--steps 3000] [--batch 1024] \
 *     [--variant batchtopk|l1] [--lambda 1] [--lr LR] [--warmup N] [--seed 1] [--backend cpu|cuda] [--held-out 20000]
 * </pre>
 *
 * The last line is machine-readable: {@code RESULT key=value ...}.
 */
public final class PlantedRecovery {
  private PlantedRecovery() {}

  public static void main(String[] args) {
    int d = 256;
    int shared = 256;
    int exclusive = 32;
    int dict = 2048;
    int k = 8;
    long steps = 3000;
    int batch = 1024;
    String variant = "batchtopk";
    double lambda = 1;
    Double lr = null;
    Long warmup = null;
    long seed = 1;
    String backend = null;
    int heldOutTokens = 20_000;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--d" -> d = Integer.parseInt(args[++i]);
        case "--shared" -> shared = Integer.parseInt(args[++i]);
        case "--exclusive" -> exclusive = Integer.parseInt(args[++i]);
        case "--dict" -> dict = Integer.parseInt(args[++i]);
        case "--k" -> k = Integer.parseInt(args[++i]);
        case "--steps" -> steps = Long.parseLong(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--variant" -> variant = args[++i];
        case "--lambda" -> lambda = Double.parseDouble(args[++i]);
        case "--lr" -> lr = Double.parseDouble(args[++i]);
        case "--warmup" -> warmup = Long.parseLong(args[++i]);
        case "--seed" -> seed = Long.parseLong(args[++i]);
        case "--backend" -> backend = args[++i];
        case "--held-out" -> heldOutTokens = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    int features = shared + 2 * exclusive;
    // Each feature fires with probability p, so about k features are active per token.
    double p = (double) k / features;
    PlantedDictionary planted = PlantedDictionary.of(
        new PlantedDictionary.Spec(d, shared, 0, exclusive, exclusive, 0, p, 1.0, 0.01, 17));
    CrosscoderTraining.Builder b = CrosscoderTraining.builder().dictionarySize(dict).batchSize(batch).steps(steps)
        .seed(seed).sparsity(variant.equals("l1") ? Sparsity.l1(lambda) : Sparsity.batchTopK(k))
        .progress(ProgressListener.on(TrainingMetrics.class, m -> {
          if (m.step() % 250 == 0) {
            System.out.printf(Locale.ROOT, "step %d: loss %.4g, L0 %.2f, EV %.4f / %.4f, dead %.1f%%, lr %.3g%n",
                m.step(), m.totalLoss(), m.l0(), m.explainedVarianceBase(), m.explainedVarianceTarget(),
                100 * m.deadFraction(), m.learningRate());
          }
        }));
    if (lr != null) {
      b.learningRate(lr);
    }
    if (warmup != null) {
      b.warmupSteps(warmup);
    }
    if (backend != null) {
      b.backend(backend);
    }
    CrosscoderTraining training = b.build();
    TrainingConfig config = training.config();
    TrainingResult result;
    try (ActivationSource source = planted.source(1 << 20, seed)) {
      result = training.train(source);
    }
    CrosscoderEvaluation heldOut;
    try (ActivationSource fresh = planted.source(heldOutTokens, seed + 1_000_003)) {
      heldOut = CrosscoderEvaluator.evaluate(result.crosscoder(), ClassThresholds.defaults(), fresh, heldOutTokens);
    }
    int[] recovery = recovery(result.crosscoder(), planted);

    System.out.printf(Locale.ROOT, "%s, d = %d, %d planted features (%d shared, %d base-only, %d target-only), F = %d,"
            + " %d steps of %d tokens, learning rate %.3g after %d warm-up steps, in %.0f s (%.0f tokens/s) on %s%n",
        config.sparsity(), d, features, shared, exclusive, exclusive, dict, steps, batch, config.learningRate(),
        config.warmupSteps(), result.seconds(), steps * batch / result.seconds(), result.backend());
    System.out.printf(Locale.ROOT, "held-out explained variance %.4f / %.4f, L0 %.2f, %d dead latents%n",
        heldOut.explainedVarianceA(), heldOut.explainedVarianceB(), heldOut.meanL0(), heldOut.deadLatents());
    System.out.printf(Locale.ROOT, "recovered %d of %d (%.1f%%) with decoder cosine >= 0.9; %d of those (%.1f%%) in the"
            + " right class%n", recovery[0], features, 100.0 * recovery[0] / features, recovery[1],
        recovery[0] == 0 ? 0 : 100.0 * recovery[1] / recovery[0]);
    result.warnings().forEach(w -> System.out.println("warning: " + w));
    TrainingMetrics last = result.lastStep();
    System.out.printf(Locale.ROOT, "RESULT variant=%s d=%d features=%d dict=%d k=%d steps=%d batch=%d lr=%.4g warmup=%d"
            + " found=%d right=%d evA=%.4f evB=%.4f l0=%.2f dead=%.4f trainEvA=%.4f trainEvB=%.4f warnings=%d"
            + " seconds=%.0f%n", variant, d, features, dict, k, steps, batch, config.learningRate(),
        config.warmupSteps(), recovery[0], recovery[1], heldOut.explainedVarianceA(), heldOut.explainedVarianceB(),
        heldOut.meanL0(), result.deadFraction(), last.explainedVarianceBase(), last.explainedVarianceTarget(),
        result.warnings().size(), result.seconds());
  }

  /**
   * {@code [found, right]}: planted features with a latent whose joint decoder, in raw units
   * (divided by the normalisation's scale), has cosine at least 0.9 with the feature's joint
   * direction, and of those the ones whose best latent's relative decoder norm (raw units) falls
   * in the feature's class.
   */
  static int[] recovery(Crosscoder coder, PlantedDictionary planted) {
    int d = coder.d();
    int dict = coder.dictionarySize();
    double sA = coder.normalisation().scale(0);
    double sB = coder.normalisation().scale(1);
    float[] dec = coder.decoderWeights();
    ClassThresholds thresholds = ClassThresholds.defaults();
    int found = 0;
    int right = 0;
    for (int q = 0; q < planted.features(); q++) {
      float[] ua = planted.direction(q, 0);
      float[] ub = planted.direction(q, 1);
      double un = 0;
      for (int j = 0; j < d; j++) {
        un += (double) ua[j] * ua[j] + (double) ub[j] * ub[j];
      }
      double best = -1;
      double bestR = Double.NaN;
      for (int i = 0; i < dict; i++) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        int base = i * 2 * d;
        for (int j = 0; j < d; j++) {
          double a = dec[base + j] / sA;
          double bb = dec[base + d + j] / sB;
          dot += a * ua[j] + bb * ub[j];
          na += a * a;
          nb += bb * bb;
        }
        double cos = dot / Math.sqrt(un * (na + nb));
        if (cos > best) {
          best = cos;
          bestR = Math.sqrt(nb) / (Math.sqrt(na) + Math.sqrt(nb));
        }
      }
      if (best >= 0.9) {
        found++;
        if (thresholds.classify(bestR) == planted.kind(q).latentClass()) {
          right++;
        }
      }
    }
    return new int[] {found, right};
  }
}
