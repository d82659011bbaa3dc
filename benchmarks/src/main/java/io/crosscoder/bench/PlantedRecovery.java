package io.crosscoder.bench;

import io.crosscoder.cpu.kernels.CpuKernels;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.crosscoder.analysis.ClassThresholds;
import io.crosscoder.crosscoder.train.CrosscoderTrainer;
import io.crosscoder.crosscoder.train.TrainedWeights;
import io.crosscoder.crosscoder.train.TrainingConfig;
import io.crosscoder.crosscoder.train.TrainingData;
import io.crosscoder.crosscoder.train.TrainingMetrics;
import io.crosscoder.io.activations.PlantedDictionary;
import io.crosscoder.progress.ProgressListener;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The crosscoder benchmark with known answers, at a realistic width: activations drawn from a
 * planted dictionary (shared, base-only and target-only features, sparse codes, noise), a
 * crosscoder trained on them, and the share of planted features it recovers (a latent whose joint
 * decoder [d^A, d^B] has cosine at least 0.9 with the feature's joint direction) and classifies
 * right (relative decoder norm in the feature's class by the default thresholds).
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -cp benchmarks/target/benchmarks.jar io.crosscoder.bench.PlantedRecovery \
 *     [--d 256] [--shared 192] [--exclusive 32] [--dict 1024] [--k 8] [--steps 3000] [--batch 1024] [--variant batchtopk|l1]
 * </pre>
 */
public final class PlantedRecovery {
  private PlantedRecovery() {}

  public static void main(String[] args) {
    int d = 256;
    int shared = 192;
    int exclusive = 32;
    int dict = 1024;
    int k = 8;
    long steps = 3000;
    int batch = 1024;
    String variant = "batchtopk";
    float lambda = 1f;
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
        case "--lambda" -> lambda = Float.parseFloat(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    int features = shared + 2 * exclusive;
    // Each feature fires with probability p, so about k features are active per token.
    double p = (double) k / features;
    PlantedDictionary planted = PlantedDictionary.of(
        new PlantedDictionary.Spec(d, shared, 0, exclusive, exclusive, 0, p, 1.0, 0.01, 17));
    TrainingConfig.Builder cb = TrainingConfig.builder().dictionarySize(dict).batchSize(batch).steps(steps)
        .learningRate(1e-3f).warmupSteps(Math.min(200, steps / 10)).seed(1);
    if (variant.equals("l1")) {
      cb.sparsity(Sparsity.l1(lambda));
    } else {
      cb.sparsity(Sparsity.batchTopK(k));
    }
    TrainingConfig config = cb.build();
    int dd = d;
    TrainingData data = new TrainingData() {
      long index;

      @Override
      public int d() {
        return dd;
      }

      @Override
      public ActivationBatch next(int rows) {
        return planted.sample(rows, new SplittableRandom(1_000_003L * ++index));
      }
    };
    long start = System.nanoTime();
    TrainedWeights w;
    try (CpuKernels kernels = CpuKernels.withDefaults();
        CrosscoderTrainer trainer = CrosscoderTrainer.start(kernels, config, data)) {
      w = trainer.train(ProgressListener.on(TrainingMetrics.class, m -> {
        if (m.step() % 250 == 0) {
          System.out.printf(Locale.ROOT, "step %d: loss %.4g, L0 %.2f, EV %.4f / %.4f, dead %.1f%%%n", m.step(),
              m.totalLoss(), m.l0(), m.explainedVarianceBase(), m.explainedVarianceTarget(), 100 * m.deadFraction());
        }
      }));
    }
    double seconds = (System.nanoTime() - start) / 1e9;

    ClassThresholds thresholds = ClassThresholds.defaults();
    int found = 0;
    int right = 0;
    for (int q = 0; q < features; q++) {
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
          double a = w.wDec()[base + j];
          double b = w.wDec()[base + d + j];
          dot += a * ua[j] + b * ub[j];
          na += a * a;
          nb += b * b;
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
    System.out.printf(Locale.ROOT, "%s, d = %d, %d planted features (%d shared, %d base-only, %d target-only), F = %d,"
            + " %d steps of %d tokens in %.0f s (%.0f tokens/s)%n", config.sparsity(), d, features, shared, exclusive,
        exclusive, dict, steps, batch, seconds, steps * batch / seconds);
    System.out.printf(Locale.ROOT, "recovered %d of %d (%.1f%%) with decoder cosine >= 0.9; %d of those (%.1f%%) in the"
        + " right class%n", found, features, 100.0 * found / features, right, found == 0 ? 0 : 100.0 * right / found);
  }
}
