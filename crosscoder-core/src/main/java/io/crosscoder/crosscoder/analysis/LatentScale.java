package io.crosscoder.crosscoder.analysis;

/**
 * Latent scaling of one latent (Minder et al.; METHOD.md section 3). For model m, direction v
 * and target Y_m(x), the least-squares scale of {@code beta f(x) v ~ Y_m(x)} is
 * {@code beta = v^T (sum_x f(x) Y_m(x)) / (|v|^2 sum_x f(x)^2)}. With {@code rec} the target is
 * the latent part of the reconstruction, {@code Y = x^_m - b_dec^m}; with {@code err} it is the
 * error with the latent's own contribution added back, {@code Y = x_m - x^_m + f(x) d^m}.
 * {@code nu_rec = betaRecA / betaRecB} and {@code nu_err = betaErrA / betaErrB}: a target-only
 * latent whose {@code nu_err} is far from 0 is explained by the base model too (Complete
 * Shrinkage), one with large {@code nu_rec} is Latent Decoupling.
 *
 * @param latent the latent's index
 * @param activeTokens tokens on which the latent fired
 * @param betaRecA beta for model A, reconstruction target
 * @param betaRecB beta for model B, reconstruction target
 * @param betaErrA beta for model A, error target
 * @param betaErrB beta for model B, error target
 */
public record LatentScale(int latent, long activeTokens, double betaRecA, double betaRecB, double betaErrA,
    double betaErrB) {

  /** {@return {@code nu_rec = betaRecA / betaRecB} (infinite or NaN when {@code betaRecB} is 0)} */
  public double nuRec() {
    return betaRecA / betaRecB;
  }

  /** {@return {@code nu_err = betaErrA / betaErrB} (infinite or NaN when {@code betaErrB} is 0)} */
  public double nuErr() {
    return betaErrA / betaErrB;
  }
}
