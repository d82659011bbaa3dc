package io.crosscoder.crosscoder.analysis;

/**
 * Thresholds on the relative decoder norm {@code r = |d^B| / (|d^A| + |d^B|)} that sort latents
 * into {@link LatentClass}es: base-only {@code r < baseOnlyBelow}, target-only
 * {@code r > targetOnlyAbove}, shared {@code sharedLow < r < sharedHigh}, otherwise other.
 * Defaults (METHOD.md section 3): 0.1, 0.9, 0.4, 0.6.
 *
 * @param baseOnlyBelow latents with {@code r} below this are base-only
 * @param targetOnlyAbove latents with {@code r} above this are target-only
 * @param sharedLow lower bound (exclusive) of the shared band
 * @param sharedHigh upper bound (exclusive) of the shared band
 */
public record ClassThresholds(double baseOnlyBelow, double targetOnlyAbove, double sharedLow, double sharedHigh) {
  /** Requires {@code 0 <= baseOnlyBelow <= sharedLow < sharedHigh <= targetOnlyAbove <= 1}. */
  public ClassThresholds {
    if (!(0 <= baseOnlyBelow && baseOnlyBelow <= sharedLow && sharedLow < sharedHigh
        && sharedHigh <= targetOnlyAbove && targetOnlyAbove <= 1)) {
      throw new IllegalArgumentException("need 0 <= baseOnlyBelow <= sharedLow < sharedHigh <= targetOnlyAbove <= 1,"
          + " got " + baseOnlyBelow + ", " + sharedLow + ", " + sharedHigh + ", " + targetOnlyAbove);
    }
  }

  /**
   * {@return the thresholds of METHOD.md section 3: base-only below 0.1, target-only above 0.9,
   * shared in (0.4, 0.6)}
   */
  public static ClassThresholds defaults() {
    return new ClassThresholds(0.1, 0.9, 0.4, 0.6);
  }

  /**
   * Classifies one latent.
   *
   * @param r the latent's relative decoder norm, in [0, 1] or NaN
   * @return its class; NaN (both decoders zero) is {@link LatentClass#OTHER}
   */
  public LatentClass classify(double r) {
    if (r < baseOnlyBelow) {
      return LatentClass.BASE_ONLY;
    }
    if (r > targetOnlyAbove) {
      return LatentClass.TARGET_ONLY;
    }
    if (r > sharedLow && r < sharedHigh) {
      return LatentClass.SHARED;
    }
    return LatentClass.OTHER;
  }
}
