package io.crosscoder.spectral;

/**
 * What the spectral analysis of a weight diff computes, and how precisely (METHOD.md section 1).
 *
 * @param rank {@code k}: the top singular directions compared between base and target (the
 *     subspace overlap), and the rank up to which a change counts as low-rank in the findings
 * @param oversampling {@code p}: extra sketch columns; the sketch has {@code l = k + p} columns, so
 *     energy ranks up to {@code l} are resolved
 * @param powerIterations {@code q}: subspace iterations, each one more pass in each direction
 * @param energyEpsilon {@code eps}: the energy rank is the smallest {@code r} whose top singular
 *     values hold {@code 1 - eps} of {@code |D|_F^2}
 * @param seed seed of the Gaussian test matrices (mixed with each tensor's name)
 */
public record SpectralOptions(int rank, int oversampling, int powerIterations, double energyEpsilon, long seed) {
  /** {@code k = 16}, {@code p = 16}, {@code q = 2}, {@code eps = 0.1}, seed 20240917. */
  public static final SpectralOptions DEFAULTS = new SpectralOptions(16, 16, 2, 0.1, 20240917L);

  /**
   * Checks the ranges.
   *
   * @throws IllegalArgumentException if {@code rank} is outside [1, 256], {@code oversampling} is
   *     negative or {@code rank + oversampling > 512}, {@code powerIterations} is outside [0, 10],
   *     or {@code energyEpsilon} is outside (0, 1)
   */
  public SpectralOptions {
    if (rank < 1 || rank > 256) {
      throw new IllegalArgumentException("spectral rank must be in [1, 256], got " + rank);
    }
    if (oversampling < 0 || rank + oversampling > 512) {
      throw new IllegalArgumentException("oversampling must be >= 0 with rank + oversampling <= 512, got " + oversampling);
    }
    if (powerIterations < 0 || powerIterations > 10) {
      throw new IllegalArgumentException("power iterations must be in [0, 10], got " + powerIterations);
    }
    if (!(energyEpsilon > 0 && energyEpsilon < 1)) {
      throw new IllegalArgumentException("energy epsilon must be in (0, 1), got " + energyEpsilon);
    }
  }

  /** {@return the sketch size {@code l = k + p}} */
  public int sketchSize() {
    return rank + oversampling;
  }

  /**
   * {@return these options with another {@code k}}
   *
   * @param k the new rank, in [1, 256] with {@code k + p <= 512}
   */
  public SpectralOptions withRank(int k) {
    return new SpectralOptions(k, oversampling, powerIterations, energyEpsilon, seed);
  }

  /**
   * {@return these options with another {@code eps}}
   *
   * @param eps the new energy threshold, in (0, 1)
   */
  public SpectralOptions withEnergyEpsilon(double eps) {
    return new SpectralOptions(rank, oversampling, powerIterations, eps, seed);
  }

  /**
   * {@return these options with another seed}
   *
   * @param s the new seed
   */
  public SpectralOptions withSeed(long s) {
    return new SpectralOptions(rank, oversampling, powerIterations, energyEpsilon, s);
  }
}
