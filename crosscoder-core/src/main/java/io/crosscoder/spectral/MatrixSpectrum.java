package io.crosscoder.spectral;

/**
 * The spectral structure of one matrix pair's change {@code D = B - A} (METHOD.md section 1),
 * estimated by {@link RandomizedSvd} with a sketch of {@code l} columns.
 *
 * @param sigmaMax {@code sigma_1(D)}, the largest singular value (an estimate from below, within
 *     {@code errorBound})
 * @param stableRank {@code |D|_F^2 / sigma_1^2}, in [1, rank(D)]; NaN when {@code D = 0}
 * @param energyRank the smallest {@code r} whose top {@code r} singular values hold {@code 1 - eps}
 *     of {@code |D|_F^2} (the LoRA rank that would explain that share of the change); 0 when {@code
 *     D = 0}; {@link Double#POSITIVE_INFINITY} when the sketch's {@code l} directions hold less
 *     (then the energy rank exceeds {@code l})
 * @param energyCaptured the share of {@code |D|_F^2} in the sketch's top {@code l} directions
 * @param subspaceOverlap {@code |U_A^T U_B|_F^2 / k} for the top-{@code k} left singular vectors of
 *     {@code A} and {@code B}: the mean squared cosine of their principal angles, 1 when the
 *     subspaces coincide, about {@code k / rows} for unrelated ones
 * @param principalCosineMin the cosine of the largest principal angle between those subspaces
 * @param errorBound the a-posteriori bound on the sketch's spectral-norm error for {@code D}: each
 *     singular value estimate is within it, with probability at least {@code 1 - 10^-10}
 * @param sketchRank columns of the sketch's basis for {@code D} ({@code l}, or the rank of {@code D}
 *     when lower)
 */
public record MatrixSpectrum(double sigmaMax, double stableRank, double energyRank, double energyCaptured,
    double subspaceOverlap, double principalCosineMin, double errorBound, int sketchRank) {}
