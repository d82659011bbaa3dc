package io.crosscoder.lineage;

import io.crosscoder.report.LineageVerdict;
import java.util.Objects;

/**
 * How one candidate base scored against the target on a sample of rows.
 *
 * @param rank 1 for the most likely base, then 2, 3, ...
 * @param path the candidate as given
 * @param format its checkpoint format
 * @param verdict the lineage rule ({@link LineageVerdict#judge}) over the sampled cosines; its
 *     {@code similarShare} and {@code medianCosine} are estimates from the sample
 * @param coverage fraction of the target's matrix elements that had a counterpart of equal name and
 *     shape in the candidate, in [0, 1] (1 for a candidate of the same architecture)
 * @param targetShare fraction of the target's matrix elements in matrices whose sampled cosine
 *     with the candidate is at least {@value LineageVerdict#SIMILAR_COSINE}; matrices the candidate
 *     lacks count as dissimilar
 * @param rowsRead matrix rows read on each side
 * @param bytesRead tensor bytes read, both sides (about {@code rowsRead} rows' worth, not the files)
 * @param seconds wall time spent on this candidate (opening, aligning, sampling)
 */
public record CandidateScore(int rank, String path, String format, LineageVerdict verdict, double coverage,
    double targetShare, long rowsRead, long bytesRead, double seconds) {
  /**
   * Checks the components.
   *
   * @throws NullPointerException if {@code path}, {@code format} or {@code verdict} is null
   */
  public CandidateScore {
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(format, "format");
    Objects.requireNonNull(verdict, "verdict");
  }
}
