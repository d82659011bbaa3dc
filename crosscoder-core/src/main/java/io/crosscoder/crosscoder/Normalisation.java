package io.crosscoder.crosscoder;

import java.util.Arrays;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * Per-model input normalisation of a crosscoder (METHOD.md section 2): the crosscoder sees
 * {@code x'_m = (x_m - mu_m) * s_m} instead of the raw activation {@code x_m}.
 *
 * <ul>
 *   <li>{@link Kind#NONE}: {@code mu = 0, s = 1}.
 *   <li>{@link Kind#SCALE}: {@code mu = 0}, {@code s_m = sqrt(d / E|x_m|^2)}, so that the mean
 *       squared norm of {@code x'_m} is d.
 *   <li>{@link Kind#MEAN_CENTRED}: {@code mu_m = E x_m}, {@code s_m = sqrt(d / E|x_m - mu_m|^2)}.
 * </ul>
 *
 * <p>The factors are saved with the crosscoder. Immutable and thread-safe.
 */
public final class Normalisation {
  /** Which normalisation. */
  public enum Kind {
    /** Inputs used as they are. */
    NONE,
    /** Each model scaled so its mean squared norm is d. */
    SCALE,
    /** Each model centred on its mean, then scaled so its mean squared centred norm is d. */
    MEAN_CENTRED
  }

  private static final Normalisation NONE = new Normalisation(Kind.NONE, 1, 1, null, null);

  private final Kind kind;
  private final double scaleA;
  private final double scaleB;
  private final float[] meanA;
  private final float[] meanB;

  private Normalisation(Kind kind, double scaleA, double scaleB, float[] meanA, float[] meanB) {
    this.kind = kind;
    this.scaleA = scaleA;
    this.scaleB = scaleB;
    this.meanA = meanA;
    this.meanB = meanB;
  }

  /**
   * No normalisation.
   *
   * @return the identity normalisation
   */
  public static Normalisation none() {
    return NONE;
  }

  /**
   * Scale-only normalisation with the given positive, finite factors.
   *
   * @param scaleA the base's factor
   * @param scaleB the target's factor
   * @return the normalisation
   */
  public static Normalisation scale(double scaleA, double scaleB) {
    checkScale(scaleA, "A");
    checkScale(scaleB, "B");
    return new Normalisation(Kind.SCALE, scaleA, scaleB, null, null);
  }

  /**
   * Mean-centred normalisation: per-model means (same length d, finite, copied) and positive,
   * finite scale factors.
   *
   * @param meanA the base's mean
   * @param meanB the target's mean
   * @param scaleA the base's factor
   * @param scaleB the target's factor
   * @return the normalisation, holding copies of the means
   */
  public static Normalisation meanCentred(float[] meanA, float[] meanB, double scaleA, double scaleB) {
    Objects.requireNonNull(meanA, "meanA");
    Objects.requireNonNull(meanB, "meanB");
    if (meanA.length != meanB.length || meanA.length == 0) {
      throw new IllegalArgumentException("means must have the same non-zero length, got " + meanA.length
          + " and " + meanB.length);
    }
    for (int j = 0; j < meanA.length; j++) {
      if (!Float.isFinite(meanA[j]) || !Float.isFinite(meanB[j])) {
        throw new IllegalArgumentException("non-finite mean at index " + j);
      }
    }
    checkScale(scaleA, "A");
    checkScale(scaleB, "B");
    return new Normalisation(Kind.MEAN_CENTRED, scaleA, scaleB, meanA.clone(), meanB.clone());
  }

  private static void checkScale(double s, String model) {
    if (!(s > 0) || Double.isInfinite(s)) {
      throw new IllegalArgumentException("scale factor of model " + model + " must be finite and > 0, got " + s);
    }
  }

  /** {@return which normalisation this is} */
  public Kind kind() {
    return kind;
  }

  /** {@return the width the means are for (only for {@link Kind#MEAN_CENTRED})} */
  public OptionalInt d() {
    return meanA == null ? OptionalInt.empty() : OptionalInt.of(meanA.length);
  }

  /**
   * {@return the scale factor {@code s_m} of model {@code m} (0 = A/base, 1 = B/target)}
   *
   * @param model 0 for the base (A), 1 for the target (B)
   */
  public double scale(int model) {
    return switch (model) {
      case 0 -> scaleA;
      case 1 -> scaleB;
      default -> throw new IllegalArgumentException("model must be 0 or 1, got " + model);
    };
  }

  /**
   * {@return a copy of the mean {@code mu_m} of model {@code m}: zeros of length {@code d} when not centred}
   *
   * @param model 0 for the base (A), 1 for the target (B)
   * @param d the width
   */
  public float[] mean(int model, int d) {
    scale(model);
    float[] mu = model == 0 ? meanA : meanB;
    return mu == null ? new float[d] : mu.clone();
  }

  /**
   * In place: {@code x[offset..offset+d) := (x - mu_m) * s_m}.
   *
   * @param model 0 for the base (A), 1 for the target (B)
   * @param x the activations
   * @param offset where the row starts in {@code x}
   * @param d the width
   */
  public void apply(int model, float[] x, int offset, int d) {
    if (kind == Kind.NONE) {
      return;
    }
    double s = scale(model);
    float[] mu = model == 0 ? meanA : meanB;
    checkWidth(d);
    for (int j = 0; j < d; j++) {
      double v = mu == null ? x[offset + j] : (double) x[offset + j] - mu[j];
      x[offset + j] = (float) (v * s);
    }
  }

  /**
   * In place, the inverse of {@link #apply}: {@code x := x / s_m + mu_m}.
   *
   * @param model 0 for the base (A), 1 for the target (B)
   * @param x the normalised activations
   * @param offset where the row starts in {@code x}
   * @param d the width
   */
  public void restore(int model, float[] x, int offset, int d) {
    if (kind == Kind.NONE) {
      return;
    }
    double s = scale(model);
    float[] mu = model == 0 ? meanA : meanB;
    checkWidth(d);
    for (int j = 0; j < d; j++) {
      double v = x[offset + j] / s;
      x[offset + j] = (float) (mu == null ? v : v + mu[j]);
    }
  }

  private void checkWidth(int d) {
    if (meanA != null && meanA.length != d) {
      throw new IllegalArgumentException("normalisation is for width " + meanA.length + ", not " + d);
    }
  }

  /**
   * Estimates the normalisation of {@code kind} from at most {@code maxTokens} tokens of one
   * epoch of {@code source} (batches of {@code batchSize}, order from {@code seed}).
   *
   * @param kind the kind of normalisation
   * @param source paired activations; read, not closed
   * @param batchSize tokens per batch read
   * @param seed seed of the order
   * @param maxTokens the most tokens to read
   * @return the normalisation estimated from the sample
   */
  public static Normalisation estimate(Kind kind, ActivationSource source, int batchSize, long seed, long maxTokens) {
    Objects.requireNonNull(kind, "kind");
    if (kind == Kind.NONE) {
      return none();
    }
    Estimator e = new Estimator(source.d());
    java.util.Iterator<ActivationBatch> it = source.batches(batchSize, seed);
    while (it.hasNext() && e.tokens() < maxTokens) {
      ActivationBatch b = it.next();
      e.add((int) Math.min(b.rows(), maxTokens - e.tokens()), b.base(), b.target());
    }
    return e.build(kind);
  }

  /**
   * Accumulates, in f64, what {@link Kind#SCALE} and {@link Kind#MEAN_CENTRED} need from a sample of
   * paired activations. Not thread-safe.
   */
  public static final class Estimator {
    private final int d;
    private final double[] sumA;
    private final double[] sumB;
    private double sqA;
    private double sqB;
    private long tokens;

    /**
     * An estimator for width {@code d >= 1}.
     *
     * @param d the width, at least 1
     */
    public Estimator(int d) {
      if (d < 1) {
        throw new IllegalArgumentException("d must be >= 1, got " + d);
      }
      this.d = d;
      this.sumA = new double[d];
      this.sumB = new double[d];
    }

    /**
     * Adds the {@code rows} tokens of a row-major batch ({@code rows x d} each).
     *
     * @param rows number of tokens
     * @param base the base's activations, {@code rows x d}
     * @param target the target's activations, {@code rows x d}
     */
    public void add(int rows, float[] base, float[] target) {
      if ((long) rows * d > base.length || (long) rows * d > target.length) {
        throw new IllegalArgumentException("batch of " + rows + " x " + d + " does not fit the arrays");
      }
      for (int r = 0; r < rows; r++) {
        int o = r * d;
        for (int j = 0; j < d; j++) {
          double a = base[o + j];
          double b = target[o + j];
          sumA[j] += a;
          sumB[j] += b;
          sqA += a * a;
          sqB += b * b;
        }
      }
      tokens += rows;
    }

    /**
     * Adds a batch.
     *
     * @param batch the batch
     */
    public void add(ActivationBatch batch) {
      if (batch.d() != d) {
        throw new IllegalArgumentException("batch width " + batch.d() + " but estimator width " + d);
      }
      add(batch.rows(), batch.base(), batch.target());
    }

    /**
     * Tokens seen.
     *
     * @return the number of tokens seen
     */
    public long tokens() {
      return tokens;
    }

    /**
     * {@return the normalisation of {@code kind} for the tokens seen (at least one, with non-zero spread)}
     *
     * @param kind the kind of normalisation
     */
    public Normalisation build(Kind kind) {
      Objects.requireNonNull(kind, "kind");
      if (kind == Kind.NONE) {
        return none();
      }
      if (tokens == 0) {
        throw new IllegalStateException("no tokens seen");
      }
      double n = tokens;
      if (kind == Kind.SCALE) {
        return scale(Math.sqrt(d / (sqA / n)), Math.sqrt(d / (sqB / n)));
      }
      float[] muA = new float[d];
      float[] muB = new float[d];
      double normMuA = 0;
      double normMuB = 0;
      for (int j = 0; j < d; j++) {
        double a = sumA[j] / n;
        double b = sumB[j] / n;
        muA[j] = (float) a;
        muB[j] = (float) b;
        normMuA += a * a;
        normMuB += b * b;
      }
      // E|x - mu|^2 = E|x|^2 - |mu|^2
      double varA = Math.max(sqA / n - normMuA, 0);
      double varB = Math.max(sqB / n - normMuB, 0);
      return meanCentred(muA, muB, Math.sqrt(d / varA), Math.sqrt(d / varB));
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Normalisation n && n.kind == kind && n.scaleA == scaleA && n.scaleB == scaleB
        && Arrays.equals(n.meanA, meanA) && Arrays.equals(n.meanB, meanB);
  }

  @Override
  public int hashCode() {
    return Objects.hash(kind, scaleA, scaleB, Arrays.hashCode(meanA), Arrays.hashCode(meanB));
  }

  @Override
  public String toString() {
    return kind == Kind.NONE ? "Normalisation[none]"
        : "Normalisation[" + kind + ", scaleA=" + scaleA + ", scaleB=" + scaleB + "]";
  }
}
