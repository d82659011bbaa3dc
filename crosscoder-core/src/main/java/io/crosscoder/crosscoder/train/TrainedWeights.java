package io.crosscoder.crosscoder.train;

import io.crosscoder.crosscoder.Crosscoder;
import io.crosscoder.crosscoder.CrosscoderConfig;
import io.crosscoder.crosscoder.Normalisation;
import io.crosscoder.crosscoder.Sparsity;
import java.util.Objects;

/**
 * The parameters of a trained acausal two-model crosscoder, in f32, laid out as in
 * ckkissane/crosscoder-model-diff-replication (model index {@code m = 0} base, {@code 1} target):
 *
 * <ul>
 *   <li>{@code wEnc}: {@code W_enc [2, d, F]} flattened, element {@code (m, j, i)} at {@code (m * d
 *       + j) * F + i}; equivalently the {@code [2d x F]} matrix that multiplies the concatenated
 *       activation {@code [x_A, x_B]}.
 *   <li>{@code wDec}: {@code W_dec [F, 2, d]} flattened, element {@code (i, m, j)} at {@code (i * 2
 *       + m) * d + j}; row {@code i} of the {@code [F x 2d]} matrix is {@code [d_i^A, d_i^B]}.
 *   <li>{@code bEnc}: {@code b_enc [F]}.
 *   <li>{@code bDec}: {@code b_dec [2, d]} flattened, element {@code (m, j)} at {@code m * d + j}.
 * </ul>
 *
 * <p>The latents are {@code f = ReLU([x_A, x_B] W_enc + b_enc)} and the reconstructions {@code
 * [x^_A, x^_B] = f W_dec + b_dec}. For BatchTopK, inference keeps latent {@code i} only where its
 * score {@code f_i (|d_i^A| + |d_i^B|)} exceeds {@link #threshold()}. The first {@link
 * #sharedLatents()} latents are designated shared: their two decoder halves are equal.
 *
 * <p>The arrays belong to this record and are not copied (they can be hundreds of MiB); callers
 * must not modify them.
 *
 * @param d the activation width of each model
 * @param dictionarySize the number of latents {@code F}
 * @param sharedLatents the number of designated shared latents {@code S} (the first {@code S})
 * @param sparsity the objective the weights were trained with (as {@link TrainingConfig#sparsity()}:
 *     a BatchTopK threshold of 0; the learned one is {@link #threshold()})
 * @param wEnc {@code [2 * d * F]}
 * @param wDec {@code [F * 2 * d]}
 * @param bEnc {@code [F]}
 * @param bDec {@code [2 * d]}
 * @param threshold BatchTopK's inference threshold on scores; {@code NaN} for L1 or when no step
 *     updated it
 */
public record TrainedWeights(int d, int dictionarySize, int sharedLatents, Sparsity sparsity,
    float[] wEnc, float[] wDec, float[] bEnc, float[] bDec, float threshold) {

  /**
   * Checks the shapes.
   *
   * @throws IllegalArgumentException if an array's length does not match {@code d} and {@code F}
   */
  public TrainedWeights {
    Objects.requireNonNull(sparsity, "sparsity");
    if (d < 1 || dictionarySize < 1 || sharedLatents < 0 || sharedLatents > dictionarySize) {
      throw new IllegalArgumentException("bad shape: d " + d + ", F " + dictionarySize + ", shared " + sharedLatents);
    }
    long matrix = 2L * d * dictionarySize;
    check("wEnc", wEnc, matrix);
    check("wDec", wDec, matrix);
    check("bEnc", bEnc, dictionarySize);
    check("bDec", bDec, 2L * d);
  }

  /**
   * These weights as an immutable {@link Crosscoder} for inputs normalised by {@code
   * normalisation} (the one the training data applied): the sparsity of training, with BatchTopK's
   * learned inference threshold in place ({@code 0}, every positive latent kept, when no step set
   * it), and the designated shared latents. The arrays are copied.
   *
   * @param normalisation the per-model normalisation the training data applied, recorded in the
   *     crosscoder's config
   * @return a new immutable crosscoder holding copies of these weights
   * @throws IllegalArgumentException if a weight is not finite (a diverged run)
   */
  public Crosscoder crosscoder(Normalisation normalisation) {
    Objects.requireNonNull(normalisation, "normalisation");
    Sparsity s = switch (sparsity) {
      case Sparsity.L1 l1 -> l1;
      case Sparsity.BatchTopK t -> Sparsity.batchTopK(t.k(), Float.isNaN(threshold) ? 0 : threshold);
    };
    CrosscoderConfig config = new CrosscoderConfig(d, dictionarySize, s, sharedLatents, normalisation);
    return Crosscoder.of(config, wEnc, wDec, bEnc, bDec);
  }

  private static void check(String name, float[] a, long expected) {
    Objects.requireNonNull(a, name);
    if (a.length != expected) {
      throw new IllegalArgumentException(name + " has " + a.length + " floats, expected " + expected);
    }
  }
}
