package io.crosscoder.crosscoder;

import java.util.Objects;

/**
 * An immutable two-model acausal crosscoder at one site (METHOD.md section 2), held in f32 arrays.
 *
 * <p>Models are indexed 0 (A, base) and 1 (B, target). With d the activation width and F the
 * dictionary size, the weights are, row-major:
 *
 * <ul>
 *   <li>{@code W_enc [2][d][F]}: element {@code (m, j, i)} at {@code (m * d + j) * F + i};
 *   <li>{@code W_dec [F][2][d]}: element {@code (i, m, j)} at {@code (i * 2 + m) * d + j}, so
 *       {@code d_i^m}, latent i's decoder for model m, is contiguous;
 *   <li>{@code b_enc [F]}, {@code b_dec [2][d]}: element {@code (m, j)} at {@code m * d + j}.
 * </ul>
 *
 * <p>Encoding: {@code f = ReLU(W_enc^A x_A + W_enc^B x_B + b_enc)}; with {@link Sparsity.BatchTopK}
 * latent i is then kept only when {@code f_i * (|d_i^A| + |d_i^B|) > threshold}. Decoding:
 * {@code x^_m = sum_i f_i d_i^m + b_dec^m}. Both work on normalised inputs (see
 * {@link #normalisation()}); sums are accumulated in f64. Thread-safe; every accessor returns a copy.
 */
public final class Crosscoder {
  private final CrosscoderConfig config;
  private final float[] wEnc;
  private final float[] wDec;
  private final float[] bEnc;
  private final float[] bDec;
  private final double[] normA;
  private final double[] normB;

  private Crosscoder(CrosscoderConfig config, float[] wEnc, float[] wDec, float[] bEnc, float[] bDec) {
    this.config = config;
    this.wEnc = wEnc;
    this.wDec = wDec;
    this.bEnc = bEnc;
    this.bDec = bDec;
    int f = config.dictionarySize();
    int d = config.d();
    this.normA = new double[f];
    this.normB = new double[f];
    for (int i = 0; i < f; i++) {
      normA[i] = norm(wDec, (i * 2) * d, d);
      normB[i] = norm(wDec, (i * 2 + 1) * d, d);
    }
  }

  /**
   * A crosscoder from flat arrays in the layouts of the class comment (copied). Rejects wrong
   * lengths, non-finite values, and designated shared latents whose two decoders differ.
   *
   * @param config the configuration (d, F, sparsity, shared latents, normalisation)
   * @param wEnc {@code W_enc}, {@code [2][d][F]} flat
   * @param wDec {@code W_dec}, {@code [F][2][d]} flat
   * @param bEnc {@code b_enc}, {@code [F]}
   * @param bDec {@code b_dec}, {@code [2][d]} flat
   * @return the crosscoder, holding copies of the arrays
   * @throws IllegalArgumentException on any of these, naming the array and index
   */
  public static Crosscoder of(CrosscoderConfig config, float[] wEnc, float[] wDec, float[] bEnc, float[] bDec) {
    Objects.requireNonNull(config, "config");
    int d = config.d();
    int f = config.dictionarySize();
    int n = 2 * d * f;
    check("W_enc", wEnc, n);
    check("W_dec", wDec, n);
    check("b_enc", bEnc, f);
    check("b_dec", bDec, 2 * d);
    for (int i = 0; i < config.sharedLatents(); i++) {
      int a = i * 2 * d;
      for (int j = 0; j < d; j++) {
        if (wDec[a + j] != wDec[a + d + j]) {
          throw new IllegalArgumentException("latent " + i + " is a designated shared latent but its decoders"
              + " differ at index " + j + ": " + wDec[a + j] + " vs " + wDec[a + d + j]);
        }
      }
    }
    return new Crosscoder(config, wEnc.clone(), wDec.clone(), bEnc.clone(), bDec.clone());
  }

  private static void check(String name, float[] a, int length) {
    Objects.requireNonNull(a, name);
    if (a.length != length) {
      throw new IllegalArgumentException(name + " must have " + length + " elements, got " + a.length);
    }
    for (int k = 0; k < a.length; k++) {
      if (!Float.isFinite(a[k])) {
        throw new IllegalArgumentException(name + " has the non-finite value " + a[k] + " at flat index " + k);
      }
    }
  }

  private static double norm(float[] a, int offset, int length) {
    double s = 0;
    for (int j = 0; j < length; j++) {
      double v = a[offset + j];
      s += v * v;
    }
    return Math.sqrt(s);
  }

  /** {@return the configuration} */
  public CrosscoderConfig config() {
    return config;
  }

  /**
   * Activation width d.
   *
   * @return the activation width d
   */
  public int d() {
    return config.d();
  }

  /**
   * Dictionary size F.
   *
   * @return the dictionary size F
   */
  public int dictionarySize() {
    return config.dictionarySize();
  }

  /** {@return the input normalisation the weights expect} */
  public Normalisation normalisation() {
    return config.normalisation();
  }

  /** {@return a copy of {@code W_enc}, {@code [2][d][F]} flat} */
  public float[] encoderWeights() {
    return wEnc.clone();
  }

  /** {@return a copy of {@code W_dec}, {@code [F][2][d]} flat} */
  public float[] decoderWeights() {
    return wDec.clone();
  }

  /** {@return a copy of {@code b_enc}, {@code [F]}} */
  public float[] encoderBias() {
    return bEnc.clone();
  }

  /** {@return a copy of {@code b_dec}, {@code [2][d]} flat} */
  public float[] decoderBias() {
    return bDec.clone();
  }

  /**
   * {@return a copy of {@code d_i^m}, latent {@code i}'s decoder for model {@code m}}
   *
   * @param latent the latent i, in [0, F)
   * @param model 0 for the base (A), 1 for the target (B)
   */
  public float[] decoder(int latent, int model) {
    checkLatent(latent);
    checkModel(model);
    int d = d();
    float[] out = new float[d];
    System.arraycopy(wDec, (latent * 2 + model) * d, out, 0, d);
    return out;
  }

  /**
   * {@return {@code W_enc[m][j][i]}}
   *
   * @param model 0 for the base (A), 1 for the target (B)
   * @param j the input dimension, in [0, d)
   * @param latent the latent i, in [0, F)
   */
  public float encoderWeight(int model, int j, int latent) {
    checkModel(model);
    checkLatent(latent);
    return wEnc[(model * d() + j) * dictionarySize() + latent];
  }

  /**
   * {@return {@code |d_i^m|} for every latent (a fresh array of F), from f64 sums}
   *
   * @param model 0 for the base (A), 1 for the target (B)
   */
  public double[] decoderNorms(int model) {
    checkModel(model);
    return (model == 0 ? normA : normB).clone();
  }

  /**
   * The latent code of one token: {@code f = ReLU(W_enc^A xA + W_enc^B xB + b_enc)}, with the
   * BatchTopK inference threshold applied where the sparsity is BatchTopK. Inputs are
   * normalised activations of length d.
   *
   * @param xA the base's normalised activation, length d
   * @param xB the target's normalised activation, length d
   * @return a fresh array of F non-negative values
   */
  public float[] encode(float[] xA, float[] xB) {
    float[] f = new float[dictionarySize()];
    encode(xA, 0, xB, 0, f, 0, new double[dictionarySize()]);
    return f;
  }

  /**
   * Encodes {@code rows} tokens of a row-major batch ({@code rows x d} each) into {@code codes}
   * ({@code rows x F}, row-major).
   *
   * @param rows number of tokens
   * @param xA the base's normalised activations, {@code rows x d}
   * @param xB the target's normalised activations, {@code rows x d}
   * @param codes where the codes go, {@code rows x F}
   */
  public void encodeBatch(int rows, float[] xA, float[] xB, float[] codes) {
    int d = d();
    int f = dictionarySize();
    if ((long) rows * d > xA.length || (long) rows * d > xB.length || (long) rows * f > codes.length) {
      throw new IllegalArgumentException("arrays too short for " + rows + " rows");
    }
    double[] acc = new double[f];
    for (int r = 0; r < rows; r++) {
      encode(xA, r * d, xB, r * d, codes, r * f, acc);
    }
  }

  private void encode(float[] xA, int offA, float[] xB, int offB, float[] out, int offOut, double[] acc) {
    int d = d();
    int f = dictionarySize();
    if (xA.length - offA < d || xB.length - offB < d) {
      throw new IllegalArgumentException("inputs must have length " + d);
    }
    for (int i = 0; i < f; i++) {
      acc[i] = bEnc[i];
    }
    for (int m = 0; m < 2; m++) {
      float[] x = m == 0 ? xA : xB;
      int off = m == 0 ? offA : offB;
      for (int j = 0; j < d; j++) {
        double v = x[off + j];
        if (v == 0) {
          continue;
        }
        int row = (m * d + j) * f;
        for (int i = 0; i < f; i++) {
          acc[i] += v * wEnc[row + i];
        }
      }
    }
    double threshold = config.sparsity() instanceof Sparsity.BatchTopK b ? b.threshold() : -1;
    for (int i = 0; i < f; i++) {
      double a = acc[i] > 0 ? acc[i] : 0;
      if (threshold >= 0 && !(a * (normA[i] + normB[i]) > threshold)) {
        a = 0;
      }
      out[offOut + i] = (float) a;
    }
  }

  /**
   * The reconstruction of one token from its code {@code f} (length F):
   * {@code x^_m = sum_i f_i d_i^m + b_dec^m}, in normalised units.
   *
   * @param f the code, length F
   * @return {@code [x^_A, x^_B]}, two fresh arrays of length d
   */
  public float[][] decode(float[] f) {
    float[][] out = {new float[d()], new float[d()]};
    decode(f, 0, out[0], 0, out[1], 0, new double[d()]);
    return out;
  }

  /**
   * Decodes {@code rows} codes ({@code rows x F}) into row-major {@code rows x d} arrays.
   *
   * @param rows number of tokens
   * @param codes the codes, {@code rows x F}
   * @param outA where the base's reconstructions go, {@code rows x d}
   * @param outB where the target's reconstructions go, {@code rows x d}
   */
  public void decodeBatch(int rows, float[] codes, float[] outA, float[] outB) {
    int d = d();
    int f = dictionarySize();
    if ((long) rows * d > outA.length || (long) rows * d > outB.length || (long) rows * f > codes.length) {
      throw new IllegalArgumentException("arrays too short for " + rows + " rows");
    }
    double[] acc = new double[d];
    for (int r = 0; r < rows; r++) {
      decode(codes, r * f, outA, r * d, outB, r * d, acc);
    }
  }

  private void decode(float[] code, int offCode, float[] outA, int offA, float[] outB, int offB, double[] acc) {
    int d = d();
    int f = dictionarySize();
    if (code.length - offCode < f) {
      throw new IllegalArgumentException("code must have length " + f);
    }
    for (int m = 0; m < 2; m++) {
      for (int j = 0; j < d; j++) {
        acc[j] = bDec[m * d + j];
      }
      for (int i = 0; i < f; i++) {
        double c = code[offCode + i];
        if (c == 0) {
          continue;
        }
        int row = (i * 2 + m) * d;
        for (int j = 0; j < d; j++) {
          acc[j] += c * wDec[row + j];
        }
      }
      float[] out = m == 0 ? outA : outB;
      int off = m == 0 ? offA : offB;
      for (int j = 0; j < d; j++) {
        out[off + j] = (float) acc[j];
      }
    }
  }

  /**
   * The same crosscoder for raw (unnormalised) activations: with {@code x' = (x - mu) * s},
   * {@code W_enc^m := s_m W_enc^m}, {@code b_enc := b_enc - sum_m s_m W_enc^m^T mu_m},
   * {@code d_i^m := d_i^m / s_m}, {@code b_dec^m := b_dec^m / s_m + mu_m}; the result has
   * {@link Normalisation#none()}. Exact (up to rounding) for L1 crosscoders; a BatchTopK
   * threshold compares scores built from decoder norms, which folding changes, so folding a
   * BatchTopK crosscoder is refused. Designated shared latents stay shared only if both
   * models have the same scale factor, so the folded crosscoder declares none.
   *
   * @return a crosscoder without normalisation that computes the same latents and reconstructions
   * @throws IllegalStateException for a BatchTopK crosscoder with a non-zero threshold
   */
  public Crosscoder foldNormalisation() {
    Normalisation n = normalisation();
    if (n.kind() == Normalisation.Kind.NONE) {
      return this;
    }
    if (config.sparsity() instanceof Sparsity.BatchTopK b && b.threshold() > 0) {
      throw new IllegalStateException("cannot fold the normalisation of a BatchTopK crosscoder: its threshold"
          + " compares scores built from decoder norms");
    }
    int d = d();
    int f = dictionarySize();
    float[] we = new float[wEnc.length];
    float[] wd = new float[wDec.length];
    float[] be = new float[f];
    float[] bd = new float[bDec.length];
    double[] beAcc = new double[f];
    for (int i = 0; i < f; i++) {
      beAcc[i] = bEnc[i];
    }
    for (int m = 0; m < 2; m++) {
      double s = n.scale(m);
      float[] mu = n.mean(m, d);
      for (int j = 0; j < d; j++) {
        int row = (m * d + j) * f;
        for (int i = 0; i < f; i++) {
          double w = wEnc[row + i] * s;
          we[row + i] = (float) w;
          beAcc[i] -= w * mu[j];
        }
        bd[m * d + j] = (float) (bDec[m * d + j] / s + mu[j]);
      }
      for (int i = 0; i < f; i++) {
        int row = (i * 2 + m) * d;
        for (int j = 0; j < d; j++) {
          wd[row + j] = (float) (wDec[row + j] / s);
        }
      }
    }
    for (int i = 0; i < f; i++) {
      be[i] = (float) beAcc[i];
    }
    boolean sameScale = n.scale(0) == n.scale(1);
    CrosscoderConfig c = new CrosscoderConfig(d, f, config.sparsity(), sameScale ? config.sharedLatents() : 0,
        Normalisation.none());
    return new Crosscoder(c, we, wd, be, bd);
  }

  private void checkLatent(int latent) {
    if (latent < 0 || latent >= dictionarySize()) {
      throw new IndexOutOfBoundsException("latent " + latent + " not in [0, " + dictionarySize() + ")");
    }
  }

  private static void checkModel(int model) {
    if (model != 0 && model != 1) {
      throw new IllegalArgumentException("model must be 0 (A, base) or 1 (B, target), got " + model);
    }
  }

  @Override
  public String toString() {
    return "Crosscoder[d=" + d() + ", F=" + dictionarySize() + ", " + config.sparsity() + ", shared="
        + config.sharedLatents() + ", " + normalisation() + "]";
  }
}
