package io.crosscoder.crosscoder.analysis;

import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.ActivationSource;
import io.crosscoder.crosscoder.Crosscoder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import io.crosscoder.backend.Kernels;

/**
 * Runs a crosscoder over raw activations and accumulates a {@link CrosscoderEvaluation}: each
 * batch is normalised with the crosscoder's {@link io.crosscoder.crosscoder.Normalisation},
 * encoded and decoded; every sum is kept in f64 and in normalised units (explained variance is
 * the same in raw units, since normalisation is affine per model).
 *
 * <p>Latent scaling (see {@link LatentScale}) uses for both models the direction
 * {@code v_i = d_i^B}, the latent's target decoder, as Minder et al. do for target-only latents
 * (the base decoder of such a latent is near zero); a latent with a zero target decoder gets NaN
 * betas. Cost per token: one encode and decode, plus {@code 4 d} per scaled latent that fired.
 * Not thread-safe.
 */
public final class CrosscoderEvaluator implements AutoCloseable {
  private final Crosscoder coder;
  private final int d;
  private final int f;
  private final int[] scaled;
  private final float[][] direction;
  private final double[] directionSq;
  private final float[][] decoderA;
  private final float[] bDec;
  private final double[][] sum;
  private final double[] sumSq = new double[2];
  private final double[] errSq = new double[2];
  private final long[] firing;
  private final double[] sff;
  private final double[][] numRec;
  private final double[][] numErr;
  private final long[] active;
  private final CodeBatches codec;
  private long tokens;
  private long nonZero;

  /** Receives the latent codes of each batch the evaluator encodes. */
  @FunctionalInterface
  public interface CodeObserver {
    /**
     * Called once per batch with {@code codes}, row-major {@code rows x F} (valid only during the
     * call; the observer must not keep or modify it).
     *
     * @param rows the batch's rows
     * @param codes the batch's latent codes, {@code rows x F} row-major
     */
    void codes(int rows, float[] codes);
  }

  /**
   * An evaluator of {@code coder} that also scales the latents {@code scaledLatents} (may be
   * empty; indices in {@code [0, F)}).
   *
   * @param coder the crosscoder; the evaluator reads it as it goes, so it must not change
   * @param scaledLatents the latents whose {@link LatentScale} is estimated; copied
   * @throws IllegalArgumentException if a latent index is outside {@code [0, F)}
   */
  public CrosscoderEvaluator(Crosscoder coder, int[] scaledLatents) {
    this(coder, scaledLatents, null);
  }

  /**
   * An evaluator that encodes and decodes on {@code kernels} (matrix products in f32, as {@link
   * Kernels#sgemm} computes them) instead of the plain f64 loops of {@link Crosscoder#encodeBatch};
   * null for the plain loops. The evaluator does not close the kernels; call {@link #close()} to
   * free the buffers it made on them.
   *
   * @param coder the crosscoder; the evaluator reads it as it goes, so it must not change
   * @param scaledLatents the latents whose {@link LatentScale} is estimated; copied
   * @param kernels the kernels to encode and decode on, or null for the plain f64 loops
   * @throws IllegalArgumentException if a latent index is outside {@code [0, F)}
   */
  public CrosscoderEvaluator(Crosscoder coder, int[] scaledLatents, Kernels kernels) {
    this.coder = Objects.requireNonNull(coder, "coder");
    this.codec = kernels == null ? new CodeBatches.Plain(coder) : new CodeBatches.OnKernels(coder, kernels);
    this.d = coder.d();
    this.f = coder.dictionarySize();
    this.scaled = scaledLatents.clone();
    int s = scaled.length;
    this.direction = new float[s][];
    this.decoderA = new float[s][];
    this.directionSq = new double[s];
    for (int k = 0; k < s; k++) {
      int i = scaled[k];
      if (i < 0 || i >= f) {
        throw new IllegalArgumentException("latent " + i + " not in [0, " + f + ")");
      }
      direction[k] = coder.decoder(i, 1);
      decoderA[k] = coder.decoder(i, 0);
      directionSq[k] = dot(direction[k], 0, direction[k], 0, d);
    }
    this.bDec = coder.decoderBias();
    this.sum = new double[2][d];
    this.firing = new long[f];
    this.sff = new double[s];
    this.numRec = new double[2][s];
    this.numErr = new double[2][s];
    this.active = new long[s];
  }

  /**
   * The evaluation of {@code coder} on at most {@code maxTokens} tokens of one epoch of {@code
   * source} (raw activations, batches of 4096 in the order of seed 0), with latent scaling of the
   * target-only latents by {@code thresholds}.
   *
   * @param coder the crosscoder
   * @param thresholds the thresholds that pick the target-only latents to scale
   * @param source raw activations of both models, of the crosscoder's width
   * @param maxTokens the most tokens evaluated, at least 1
   * @return the evaluation
   * @throws IllegalArgumentException if the source's width is not the crosscoder's, or {@code
   *     maxTokens < 1}
   */
  public static CrosscoderEvaluation evaluate(Crosscoder coder, ClassThresholds thresholds, ActivationSource source,
      long maxTokens) {
    Objects.requireNonNull(coder, "coder");
    Objects.requireNonNull(thresholds, "thresholds");
    Objects.requireNonNull(source, "source");
    if (source.d() != coder.d()) {
      throw new IllegalArgumentException("the activations " + source + " have d = " + source.d()
          + " but the crosscoder has d = " + coder.d());
    }
    if (maxTokens < 1) {
      throw new IllegalArgumentException("maxTokens must be at least 1, got " + maxTokens);
    }
    LatentClass[] classes = DecoderGeometry.classes(coder, thresholds);
    int[] targetOnly = java.util.stream.IntStream.range(0, classes.length)
        .filter(i -> classes[i] == LatentClass.TARGET_ONLY).toArray();
    CrosscoderEvaluator ev = new CrosscoderEvaluator(coder, targetOnly);
    ev.addAll(source, 4096, 0, maxTokens);
    return ev.result();
  }

  /**
   * Adds a batch of raw activations.
   *
   * @param batch the activations of both models, of the crosscoder's width; not modified
   * @throws IllegalArgumentException if the batch's width is not the crosscoder's
   */
  public void add(ActivationBatch batch) {
    add(batch, null);
  }

  /**
   * Adds a batch of raw activations and hands its codes to {@code observer}.
   *
   * @param batch the activations of both models, of the crosscoder's width; not modified
   * @param observer receives the batch's codes before the sums are updated; may be null
   * @throws IllegalArgumentException if the batch's width is not the crosscoder's
   */
  public void add(ActivationBatch batch, CodeObserver observer) {
    if (batch.d() != d) {
      throw new IllegalArgumentException("batch width " + batch.d() + " but crosscoder width " + d);
    }
    int rows = batch.rows();
    float[] xa = java.util.Arrays.copyOf(batch.base(), rows * d);
    float[] xb = java.util.Arrays.copyOf(batch.target(), rows * d);
    for (int r = 0; r < rows; r++) {
      coder.normalisation().apply(0, xa, r * d, d);
      coder.normalisation().apply(1, xb, r * d, d);
    }
    float[] codes = new float[rows * f];
    codec.encode(rows, xa, xb, codes);
    float[] ra = new float[rows * d];
    float[] rb = new float[rows * d];
    codec.decode(rows, codes, ra, rb);
    if (observer != null) {
      observer.codes(rows, codes);
    }
    for (int r = 0; r < rows; r++) {
      int o = r * d;
      for (int m = 0; m < 2; m++) {
        float[] x = m == 0 ? xa : xb;
        float[] y = m == 0 ? ra : rb;
        double[] s = sum[m];
        double sq = 0;
        double err = 0;
        for (int j = 0; j < d; j++) {
          double v = x[o + j];
          s[j] += v;
          sq += v * v;
          double e = v - y[o + j];
          err += e * e;
        }
        sumSq[m] += sq;
        errSq[m] += err;
      }
      int oc = r * f;
      for (int i = 0; i < f; i++) {
        if (codes[oc + i] != 0) {
          firing[i]++;
          nonZero++;
        }
      }
      for (int k = 0; k < scaled.length; k++) {
        double c = codes[oc + scaled[k]];
        if (c == 0) {
          continue;
        }
        active[k]++;
        sff[k] += c * c;
        float[] v = direction[k];
        for (int m = 0; m < 2; m++) {
          float[] x = m == 0 ? xa : xb;
          float[] y = m == 0 ? ra : rb;
          float[] own = m == 0 ? decoderA[k] : direction[k];
          double vRec = 0;
          double vErr = 0;
          for (int j = 0; j < d; j++) {
            double rec = (double) y[o + j] - bDec[m * d + j];
            vRec += v[j] * rec;
            vErr += v[j] * ((double) x[o + j] - y[o + j] + c * own[j]);
          }
          numRec[m][k] += c * vRec;
          numErr[m][k] += c * vErr;
        }
      }
    }
    tokens += rows;
  }

  /**
   * Adds every batch of one epoch of {@code source} until at most {@code maxTokens} tokens have
   * been added in all (the last batch is cut to fit).
   *
   * @param source raw activations of both models, of the crosscoder's width
   * @param batchSize rows per batch read from the source
   * @param seed the seed of the source's batch order
   * @param maxTokens the most tokens this evaluator holds once done, counting those added before
   */
  public void addAll(ActivationSource source, int batchSize, long seed, long maxTokens) {
    Iterator<ActivationBatch> it = source.batches(batchSize, seed);
    while (it.hasNext() && tokens < maxTokens) {
      ActivationBatch b = it.next();
      int keep = (int) Math.min(b.rows(), maxTokens - tokens);
      add(keep == b.rows() ? b : new ActivationBatch(keep, b.d(), b.base(), b.target()));
    }
  }

  /** Frees what the evaluator holds on its kernels (nothing for the plain loops). Idempotent. */
  @Override
  public void close() {
    codec.close();
  }

  /** {@return the evaluation of everything added so far} */
  public CrosscoderEvaluation result() {
    double[] ev = new double[2];
    for (int m = 0; m < 2; m++) {
      // sum|x - mean|^2 = sum|x|^2 - n |mean|^2
      double meanSq = 0;
      for (int j = 0; j < d; j++) {
        double mu = sum[m][j] / tokens;
        meanSq += mu * mu;
      }
      double centred = sumSq[m] - tokens * meanSq;
      ev[m] = tokens < 2 ? Double.NaN : 1 - errSq[m] / centred;
    }
    List<LatentScale> scales = new ArrayList<>();
    for (int k = 0; k < scaled.length; k++) {
      double den = directionSq[k] * sff[k];
      scales.add(new LatentScale(scaled[k], active[k], numRec[0][k] / den, numRec[1][k] / den, numErr[0][k] / den,
          numErr[1][k] / den));
    }
    double l0 = tokens == 0 ? Double.NaN : (double) nonZero / tokens;
    return new CrosscoderEvaluation(tokens, ev[0], ev[1], l0, firing, scales);
  }

  private static double dot(float[] a, int oa, float[] b, int ob, int n) {
    double s = 0;
    for (int j = 0; j < n; j++) {
      s += (double) a[oa + j] * b[ob + j];
    }
    return s;
  }
}
