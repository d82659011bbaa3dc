package io.crosscoder.crosscoder.analysis;

import io.crosscoder.crosscoder.Crosscoder;

/**
 * Per-latent comparisons of a crosscoder's two decoders {@code d_i^A, d_i^B} (METHOD.md section
 * 3), in f64. Computed on the decoders as stored: fold the normalisation first
 * ({@link Crosscoder#foldNormalisation()}) to compare in raw activation units.
 */
public final class DecoderGeometry {
  private DecoderGeometry() {}

  /**
   * Relative decoder norm {@code r_i = |d_i^B| / (|d_i^A| + |d_i^B|)}: 0 base-only, 0.5 shared,
   * 1 target-only; NaN when both decoders are zero.
   *
   * @param c the crosscoder; read, not kept
   * @return a new array of {@code F} values, one per latent
   */
  public static double[] relativeNorms(Crosscoder c) {
    double[] a = c.decoderNorms(0);
    double[] b = c.decoderNorms(1);
    double[] r = new double[a.length];
    for (int i = 0; i < r.length; i++) {
      double s = a[i] + b[i];
      r[i] = s == 0 ? Double.NaN : b[i] / s;
    }
    return r;
  }

  /**
   * The diffing-toolkit orientation {@code ((|d^A| - |d^B|) / max(|d^A|, |d^B|) + 1) / 2}: 1 when
   * only A has a decoder, 0.5 for equal norms, 0 when only B has one (the reverse direction of
   * {@link #relativeNorms}); NaN when both are zero.
   *
   * @param c the crosscoder; read, not kept
   * @return a new array of {@code F} values in [0, 1] or NaN, one per latent
   */
  public static double[] toolkitRelativeNorms(Crosscoder c) {
    double[] a = c.decoderNorms(0);
    double[] b = c.decoderNorms(1);
    double[] r = new double[a.length];
    for (int i = 0; i < r.length; i++) {
      double max = Math.max(a[i], b[i]);
      r[i] = max == 0 ? Double.NaN : ((a[i] - b[i]) / max + 1) / 2;
    }
    return r;
  }

  /**
   * The cosine of each latent's two decoders.
   *
   * @param c the crosscoder; read, not kept
   * @return a new array of {@code cos(d_i^A, d_i^B)} in [-1, 1] for every latent; NaN when either
   *     decoder is zero
   */
  public static double[] decoderCosines(Crosscoder c) {
    int f = c.dictionarySize();
    int d = c.d();
    float[] w = c.decoderWeights();
    double[] cos = new double[f];
    for (int i = 0; i < f; i++) {
      int a = i * 2 * d;
      int b = a + d;
      double dot = 0;
      double na = 0;
      double nb = 0;
      for (int j = 0; j < d; j++) {
        double x = w[a + j];
        double y = w[b + j];
        dot += x * y;
        na += x * x;
        nb += y * y;
      }
      cos[i] = na == 0 || nb == 0 ? Double.NaN : Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb)));
    }
    return cos;
  }

  /**
   * The class of every latent; designated shared latents are {@link LatentClass#SHARED}.
   *
   * @param c the crosscoder; read, not kept
   * @param thresholds the thresholds on the relative decoder norm
   * @return a new array of {@code F} classes, one per latent
   */
  public static LatentClass[] classes(Crosscoder c, ClassThresholds thresholds) {
    double[] r = relativeNorms(c);
    LatentClass[] out = new LatentClass[r.length];
    for (int i = 0; i < r.length; i++) {
      out[i] = i < c.config().sharedLatents() ? LatentClass.SHARED : thresholds.classify(r[i]);
    }
    return out;
  }
}
