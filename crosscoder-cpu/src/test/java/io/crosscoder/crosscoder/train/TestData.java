package io.crosscoder.crosscoder.train;

import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.Sparsity;
import java.util.SplittableRandom;

/** Training data for tests. */
final class TestData {
  private TestData() {}

  /** The same batch every time. */
  static TrainingData fixed(ActivationBatch batch) {
    return new TrainingData() {
      @Override
      public int d() {
        return batch.d();
      }

      @Override
      public ActivationBatch next(int batchSize) {
        if (batchSize != batch.rows()) {
          throw new IllegalArgumentException("fixed batch of " + batch.rows() + " rows, asked " + batchSize);
        }
        return batch;
      }
    };
  }

  /** Gaussian activations, a deterministic stream from {@code seed}; the target is base plus a shift. */
  static TrainingData gaussian(long seed, int d) {
    SplittableRandom rng = new SplittableRandom(seed);
    return new TrainingData() {
      @Override
      public int d() {
        return d;
      }

      @Override
      public ActivationBatch next(int rows) {
        float[] base = new float[rows * d];
        float[] target = new float[rows * d];
        for (int i = 0; i < base.length; i++) {
          base[i] = (float) rng.nextGaussian();
          target[i] = base[i] * 0.8f + (float) rng.nextGaussian() * 0.6f + 0.3f;
        }
        return new ActivationBatch(rows, d, base, target);
      }
    };
  }

  /** Random weights of a crosscoder with equal halves for the first {@code shared} latents. */
  static TrainedWeights randomWeights(long seed, int d, int f, int shared, Sparsity v, double scale) {
    SplittableRandom rng = new SplittableRandom(seed);
    float[] enc = new float[2 * d * f];
    float[] dec = new float[2 * d * f];
    float[] be = new float[f];
    float[] bd = new float[2 * d];
    for (int i = 0; i < enc.length; i++) {
      enc[i] = (float) (rng.nextGaussian() * scale);
      dec[i] = (float) (rng.nextGaussian() * scale);
    }
    for (int i = 0; i < shared; i++) {
      System.arraycopy(dec, i * 2 * d, dec, i * 2 * d + d, d);
    }
    for (int i = 0; i < f; i++) {
      be[i] = (float) (rng.nextGaussian() * 0.1);
    }
    for (int i = 0; i < 2 * d; i++) {
      bd[i] = (float) (rng.nextGaussian() * 0.1);
    }
    return new TrainedWeights(d, f, shared, v, enc, dec, be, bd, Float.NaN);
  }
}
