package io.crosscoder.crosscoder.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.crosscoder.cpu.kernels.CpuKernels;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.progress.ProgressListener;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Both objectives recover a planted dictionary: 32 features in d = 16 per model (12 shared with
 * slightly rotated directions, 10 base-only, 10 target-only), each active in a token with
 * probability 0.05 at a magnitude uniform in [0.5, 2]. Explained variance is measured by the f64
 * oracle on fresh batches, with BatchTopK's inference threshold in place of top-k; recovery by the
 * cosine between each planted joint direction and the best latent's joint decoder, and the class
 * (shared, base-only, target-only) by that latent's relative decoder norm.
 */
class PlantedDictionaryTest {
  private static final int D = 16;
  private static final int SHARED = 12;
  private static final int BASE_ONLY = 10;
  private static final int TARGET_ONLY = 10;

  /** The planted features and a deterministic stream of sparse combinations of them. */
  static final class Planted implements TrainingData {
    final float[][] dirA = new float[SHARED + BASE_ONLY + TARGET_ONLY][];
    final float[][] dirB = new float[SHARED + BASE_ONLY + TARGET_ONLY][];
    private final SplittableRandom rng;
    private final double scale;

    Planted(long seed) {
      SplittableRandom dict = new SplittableRandom(1234);
      for (int i = 0; i < dirA.length; i++) {
        float[] a = unit(dict, null, 0);
        boolean sharedFeature = i < SHARED;
        boolean baseOnly = !sharedFeature && i < SHARED + BASE_ONLY;
        dirA[i] = sharedFeature || baseOnly ? a : null;
        dirB[i] = sharedFeature ? unit(dict, a, 0.3) : baseOnly ? null : unit(dict, null, 0);
      }
      this.rng = new SplittableRandom(seed);
      // E|x_m|^2 = 22 * 0.05 * E[c^2] with E[c^2] = 1.75; scale it to d, as the normalisation would.
      this.scale = Math.sqrt(D / (22 * 0.05 * 1.75));
    }

    private static float[] unit(SplittableRandom r, float[] near, double noise) {
      double[] v = new double[D];
      double s = 0;
      for (int j = 0; j < D; j++) {
        v[j] = (near == null ? 0 : near[j]) + (near == null ? 1 : noise) * r.nextGaussian();
        s += v[j] * v[j];
      }
      float[] out = new float[D];
      for (int j = 0; j < D; j++) {
        out[j] = (float) (v[j] / Math.sqrt(s));
      }
      return out;
    }

    @Override
    public int d() {
      return D;
    }

    @Override
    public ActivationBatch next(int rows) {
      float[] base = new float[rows * D];
      float[] target = new float[rows * D];
      for (int t = 0; t < rows; t++) {
        for (int i = 0; i < dirA.length; i++) {
          if (rng.nextDouble() < 0.05) {
            double c = scale * (0.5 + 1.5 * rng.nextDouble());
            for (int j = 0; j < D; j++) {
              if (dirA[i] != null) {
                base[t * D + j] += (float) (c * dirA[i][j]);
              }
              if (dirB[i] != null) {
                target[t * D + j] += (float) (c * dirB[i][j]);
              }
            }
          }
        }
      }
      return new ActivationBatch(rows, D, base, target);
    }
  }

  /** Explained variance of both models, pooled, over 4 fresh batches of 512, by the f64 oracle. */
  private static double[] heldOut(TrainedWeights w, boolean topK) {
    Planted data = new Planted(777);
    double[] p = CrosscoderOracle.flat(w);
    int f = w.dictionarySize();
    double err = 0;
    double var = 0;
    double active = 0;
    int tokens = 0;
    for (int n = 0; n < 4; n++) {
      ActivationBatch batch = data.next(512);
      double[][] x = CrosscoderOracle.rows(batch);
      double[] mean = new double[2 * D];
      for (double[] row : x) {
        for (int r = 0; r < 2 * D; r++) {
          mean[r] += row[r] / x.length;
        }
      }
      for (double[] row : x) {
        double[] a = new double[f];
        for (int i = 0; i < f; i++) {
          double s = p[2 * D * f + i];
          for (int r = 0; r < 2 * D; r++) {
            s += row[r] * p[r * f + i];
          }
          a[i] = Math.max(0, s);
          if (topK) {
            double norms = 0;
            double nA = 0;
            double nB = 0;
            for (int j = 0; j < D; j++) {
              nA += CrosscoderOracle.sq(w.wDec()[i * 2 * D + j]);
              nB += CrosscoderOracle.sq(w.wDec()[i * 2 * D + D + j]);
            }
            norms = Math.sqrt(nA) + Math.sqrt(nB);
            if (a[i] * norms <= w.threshold()) {
              a[i] = 0;
            }
          }
          active += a[i] > 0 ? 1 : 0;
        }
        for (int r = 0; r < 2 * D; r++) {
          double xhat = w.bDec()[r];
          for (int i = 0; i < f; i++) {
            xhat += a[i] * w.wDec()[i * 2 * D + r];
          }
          err += CrosscoderOracle.sq(row[r] - xhat);
          var += CrosscoderOracle.sq(row[r] - mean[r]);
        }
        tokens++;
      }
    }
    return new double[] {1 - err / var, active / tokens};
  }

  @Test
  void l1RecoversThePlantedDictionary() {
    TrainingConfig config = TrainingConfig.builder().dictionarySize(64).batchSize(256).steps(1500)
        .learningRate(3e-3f).warmupSteps(50).sparsity(Sparsity.l1(0.5f)).sharedFraction(0.125)
        .deadTokens(20_000).seed(1).build();
    TrainingMetrics[] last = new TrainingMetrics[1];
    TrainedWeights w;
    try (CpuKernels kernels = new CpuKernels(2, true);
        CrosscoderTrainer t = CrosscoderTrainer.start(kernels, config, new Planted(1))) {
      w = t.train(ProgressListener.on(TrainingMetrics.class, m -> last[0] = m));
    }
    double[] ev = heldOut(w, false);
    System.out.printf("L1: train EV %.4f / %.4f, L0 %.2f, dead %.3f; held-out EV %.4f, L0 %.2f%n",
        last[0].explainedVarianceBase(), last[0].explainedVarianceTarget(), last[0].l0(),
        last[0].deadFraction(), ev[0], ev[1]);
    assertThat(ev[0]).isGreaterThan(0.9);
    assertThat(last[0].explainedVarianceBase()).isGreaterThan(0.9);
    assertThat(last[0].explainedVarianceTarget()).isGreaterThan(0.9);
    assertThat(last[0].deadFraction()).isBetween(0.0, 0.5);
    assertRecovered(w, "L1");
  }

  @Test
  void batchTopKRecoversThePlantedDictionary() {
    TrainingConfig config = TrainingConfig.builder().sparsity(Sparsity.batchTopK(3))
        .dictionarySize(64).batchSize(256).steps(1500).learningRate(3e-3f).warmupSteps(50)
        .sharedFraction(0.125).deadTokens(5_000).thresholdStartStep(500).seed(1).build();
    TrainingMetrics[] last = new TrainingMetrics[1];
    TrainedWeights w;
    try (CpuKernels kernels = new CpuKernels(2, true);
        CrosscoderTrainer t = CrosscoderTrainer.start(kernels, config, new Planted(1))) {
      w = t.train(ProgressListener.on(TrainingMetrics.class, m -> last[0] = m));
    }
    double[] ev = heldOut(w, true);
    System.out.printf("BatchTopK: train EV %.4f / %.4f, L0 %.2f, dead %.3f, threshold %.4f; held-out EV %.4f, L0 %.2f%n",
        last[0].explainedVarianceBase(), last[0].explainedVarianceTarget(), last[0].l0(),
        last[0].deadFraction(), w.threshold(), ev[0], ev[1]);
    assertThat(ev[0]).isGreaterThan(0.9);
    assertThat(last[0].explainedVarianceBase()).isGreaterThan(0.9);
    assertThat(last[0].explainedVarianceTarget()).isGreaterThan(0.9);
    assertThat(last[0].deadFraction()).isBetween(0.0, 0.5);
    assertThat(ev[1]).as("L0 with the inference threshold").isBetween(1.0, 6.0);
    assertRecovered(w, "BatchTopK");
  }

  /**
   * For each planted feature, the best cosine between its joint direction {@code [u_A, u_B]} (zero
   * where absent) and a latent's joint decoder {@code [d^A, d^B]}, and that latent's relative
   * decoder norm {@code |d^B| / (|d^A| + |d^B|)}.
   */
  private static double[][] recovery(TrainedWeights w, Planted planted) {
    int f = w.dictionarySize();
    double[][] out = new double[planted.dirA.length][2];
    for (int q = 0; q < planted.dirA.length; q++) {
      double[] u = new double[2 * D];
      for (int j = 0; j < D; j++) {
        u[j] = planted.dirA[q] == null ? 0 : planted.dirA[q][j];
        u[D + j] = planted.dirB[q] == null ? 0 : planted.dirB[q][j];
      }
      double un = 0;
      for (double v : u) {
        un += v * v;
      }
      for (int i = 0; i < f; i++) {
        double dot = 0;
        double nA = 0;
        double nB = 0;
        for (int r = 0; r < 2 * D; r++) {
          double v = w.wDec()[i * 2 * D + r];
          dot += v * u[r];
          if (r < D) {
            nA += v * v;
          } else {
            nB += v * v;
          }
        }
        double cos = dot / Math.sqrt(un * (nA + nB));
        if (cos > out[q][0]) {
          out[q][0] = cos;
          out[q][1] = Math.sqrt(nB) / (Math.sqrt(nA) + Math.sqrt(nB));
        }
      }
    }
    return out;
  }

  /** Asserts that most planted features have a matching latent, of the right class by relative norm. */
  private static void assertRecovered(TrainedWeights w, String name) {
    double[][] rec = recovery(w, new Planted(1));
    int found = 0;
    int rightClass = 0;
    for (int q = 0; q < rec.length; q++) {
      if (rec[q][0] > 0.9) {
        found++;
        double r = rec[q][1];
        boolean ok = q < SHARED ? r > 0.3 && r < 0.7 : q < SHARED + BASE_ONLY ? r < 0.1 : r > 0.9;
        rightClass += ok ? 1 : 0;
        if (!ok) {
          System.out.printf("  feature %d: cosine %.3f, relative norm %.3f%n", q, rec[q][0], rec[q][1]);
        }
      }
    }
    System.out.printf("%s: %d of 32 planted features found (cosine > 0.9), %d of them in the right class%n",
        name, found, rightClass);
    // Measured at commit time: L1 24 found, all in class; BatchTopK 29 found, 26 in class (BatchTopK
    // has no decoder-norm penalty, so an exclusive latent may keep a small unused half).
    assertThat(found).isGreaterThanOrEqualTo(22);
    assertThat(rightClass).isGreaterThanOrEqualTo(found - 4);
  }
}
